package main

// The RPC commands. Each goes through the stubs dispensed from go-plugin's
// connection, whose default call options already raise the message limits
// to MaxInt32 (contract 1.9), exactly as Plutono's calls do.

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc/status"
)

type reply = map[string]interface{}

// timing is shared by all RPC commands: timeout_ms puts a deadline on the
// call's context (like alerting's evaluation timeout, contract 2.6) and
// cancel_after_ms cancels it (like a browser disconnecting).
type timing struct {
	TimeoutMS     int64 `json:"timeout_ms"`
	CancelAfterMS int64 `json:"cancel_after_ms"`
}

func (t timing) context() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	if t.TimeoutMS > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeout(ctx, time.Duration(t.TimeoutMS)*time.Millisecond)
		inner := cancel
		cancel = func() { cancelTimeout(); inner() }
	}
	if t.CancelAfterMS > 0 {
		timer := time.AfterFunc(time.Duration(t.CancelAfterMS)*time.Millisecond, cancel)
		outer := cancel
		cancel = func() { timer.Stop(); outer() }
	}
	return ctx, cancel
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// rpcError fills ok/error/grpc_code for a failed call.
func rpcError(r reply, err error) reply {
	r["ok"] = false
	r["error"] = err.Error()
	if s, ok := status.FromError(err); ok {
		r["grpc_code"] = s.Code().String()
		r["grpc_message"] = s.Message()
	}
	return r
}

// unavailable mirrors grpcPlugin's ErrPluginUnavailable for health, metrics
// and resources while the process has exited (contract 1.13).
func unavailable(s snapshot) (reply, bool) {
	if s.client.Exited() {
		return reply{"ok": false, "error": "plugin unavailable", "unavailable": true}, true
	}
	return nil, false
}

func (p *managedPlugin) ping() reply {
	s, err := p.current()
	if err != nil {
		return reply{"ok": false, "error": err.Error()}
	}
	// GRPCClient.Ping checks grpc.health.v1 service "plugin" (contract 1.10).
	if err := s.rpc.Ping(); err != nil {
		return rpcError(reply{}, err)
	}
	return reply{"ok": true}
}

type healthArgs struct {
	timing
	PluginContext *pluginContextJSON `json:"plugin_context"`
}

func (p *managedPlugin) checkHealth(args healthArgs) reply {
	s, err := p.current()
	if err != nil {
		return reply{"ok": false, "error": err.Error()}
	}
	if r, down := unavailable(s); down {
		return r
	}
	ctx, cancel := args.context()
	defer cancel()
	began := time.Now()
	resp, err := s.clients.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{
		PluginContext: args.PluginContext.toProto(s.pluginID),
	})
	out := reply{"elapsed_ms": msSince(began)}
	if err != nil {
		return rpcError(out, err)
	}
	out["ok"] = true
	out["status"] = resp.Status.String()
	out["message"] = resp.Message
	out["details_json"] = string(resp.JsonDetails)
	return out
}

func (p *managedPlugin) collectMetrics(args timing) reply {
	s, err := p.current()
	if err != nil {
		return reply{"ok": false, "error": err.Error()}
	}
	if r, down := unavailable(s); down {
		return r
	}
	ctx, cancel := args.context()
	defer cancel()
	// No plugin context: Plutono sends an empty request (contract 2.4.6).
	resp, err := s.clients.diagnostics.CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{})
	if err != nil {
		return rpcError(reply{}, err)
	}
	text := ""
	if resp.Metrics != nil {
		text = string(resp.Metrics.Prometheus)
	}
	return reply{"ok": true, "prometheus": text}
}

type queryArgs struct {
	timing
	PluginContext *pluginContextJSON `json:"plugin_context"`
	Headers       map[string]string  `json:"headers"`
	Queries       []queryJSON        `json:"queries"`
}

// query sends QueryData straight to the client even when the process has
// exited, as Plutono does (contract 1.13), so the failure is a gRPC error.
func (p *managedPlugin) query(args queryArgs) reply {
	s, err := p.current()
	if err != nil {
		return reply{"ok": false, "error": err.Error()}
	}
	req := &pluginv2.QueryDataRequest{
		PluginContext: args.PluginContext.toProto(s.pluginID),
		Headers:       args.Headers,
	}
	if req.Headers == nil {
		req.Headers = map[string]string{}
	}
	for i, q := range args.Queries {
		dq, err := q.toProto(i)
		if err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		req.Queries = append(req.Queries, dq)
	}
	ctx, cancel := args.context()
	defer cancel()
	began := time.Now()
	resp, err := s.clients.data.QueryData(ctx, req)
	out := reply{"elapsed_ms": msSince(began)}
	if err != nil {
		return rpcError(out, err)
	}
	responses := map[string]interface{}{}
	for refID, r := range resp.Responses {
		frames := make([]string, 0, len(r.Frames))
		for _, f := range r.Frames {
			frames = append(frames, base64.StdEncoding.EncodeToString(f))
		}
		responses[refID] = map[string]interface{}{
			"error":            r.Error,
			"frames_base64":    frames,
			"json_meta_base64": base64.StdEncoding.EncodeToString(r.JsonMeta),
		}
	}
	out["ok"] = true
	out["responses"] = responses
	return out
}

type resourceArgs struct {
	timing
	PluginContext *pluginContextJSON  `json:"plugin_context"`
	Method        string              `json:"method"`
	Path          string              `json:"path"`
	URL           *string             `json:"url"`
	Headers       map[string][]string `json:"headers"`
	BodyBase64    string              `json:"body_base64"`
}

// resource calls CallResource and reports every streamed message on its
// own, in order, with the time it arrived; Plutono takes status and headers
// from the first only (contract 2.4.4), which the caller can then check.
func (p *managedPlugin) resource(args resourceArgs) reply {
	s, err := p.current()
	if err != nil {
		return reply{"ok": false, "error": err.Error()}
	}
	if r, down := unavailable(s); down {
		return r
	}
	body, err := base64.StdEncoding.DecodeString(args.BodyBase64)
	if err != nil {
		return reply{"ok": false, "error": "body_base64 is not valid base64: " + err.Error()}
	}
	method := args.Method
	if method == "" {
		method = "GET"
	}
	url := args.Path
	if args.URL != nil {
		url = *args.URL
	}
	headers := map[string]*pluginv2.StringList{}
	for k, v := range args.Headers {
		headers[k] = &pluginv2.StringList{Values: v}
	}
	req := &pluginv2.CallResourceRequest{
		PluginContext: args.PluginContext.toProto(s.pluginID),
		Path:          args.Path, Method: method, Url: url, Headers: headers, Body: body,
	}
	ctx, cancel := args.context()
	defer cancel()
	began := time.Now()
	messages := []interface{}{}
	out := reply{"messages": messages}
	stream, err := s.clients.resource.CallResource(ctx, req)
	if err != nil {
		out["elapsed_ms"] = msSince(began)
		return rpcError(out, err)
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			out["messages"], out["elapsed_ms"] = messages, msSince(began)
			return rpcError(out, err)
		}
		h := map[string][]string{}
		for k, v := range msg.Headers {
			h[k] = v.GetValues()
		}
		messages = append(messages, map[string]interface{}{
			"code": msg.Code, "headers": h, "body_base64": base64.StdEncoding.EncodeToString(msg.Body),
			"received_ms": msSince(began),
		})
	}
	out["ok"], out["messages"], out["elapsed_ms"] = true, messages, msSince(began)
	return out
}
