// Command goref is a reference datasource plugin written the way
// grafana-plugin-sdk-go v0.88.0 documents one (datasource.Serve, a
// QueryTypeMux, an instance manager, httpadapter for resources). It behaves
// like the project's Python example plugin, so the same interop tests can
// run against both and tell a harness bug from a Python runtime bug.
//
// Behaviour (query JSON fields in parentheses):
//   - query type "" and "sine": one wide frame named after the refId with
//     fields time (time) and value (float64, labels from "labels"); value =
//     amplitude ("amplitude", default 1) × sin(t in seconds); points start at
//     the range's from and step by max(intervalMS, range/maxDataPoints), or
//     1000 ms when that is 0, up to (excluding) the range's to;
//   - "error": that query's DataResponse.Error = "message";
//   - "slow": sleep "durationMs" (abandoned when the request is cancelled),
//     then answer like "sine";
//   - "bench_frame" (benchmark only): one wide frame of "rows" rows, time
//     (one second apart from the range's from) and value (float64);
//   - resource GET ping → 200 {"ok": true}; GET stream → three flushed chunks;
//     GET process → the process's environment, cwd and arguments, so tests
//     can check what the host passed (contract 1.1, 1.2);
//   - CheckHealth → OK "plugin is running".
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// queryModel is the part of the query JSON goref reads.
type queryModel struct {
	Amplitude  *float64          `json:"amplitude"`
	Labels     map[string]string `json:"labels"`
	Message    string            `json:"message"`
	DurationMS int64             `json:"durationMs"`
	Rows       int               `json:"rows"`
}

// instance is the per-datasource state the instance manager caches (keyed
// by datasource id, recreated when lastUpdatedMS changes; contract 5.7).
type instance struct {
	settings backend.DataSourceInstanceSettings
}

func newInstance(settings backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	return &instance{settings: settings}, nil
}

type plugin struct {
	instances instancemgmt.InstanceManager
}

// forEachQuery runs fn per query and collects the answers; a query that
// fails only fails its own refId (contract 5.4).
func forEachQuery(req *backend.QueryDataRequest, fn func(backend.DataQuery, queryModel) backend.DataResponse) *backend.QueryDataResponse {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		var model queryModel
		if err := json.Unmarshal(q.JSON, &model); err != nil {
			resp.Responses[q.RefID] = backend.DataResponse{Error: fmt.Errorf("query JSON: %w", err)}
			continue
		}
		resp.Responses[q.RefID] = fn(q, model)
	}
	return resp
}

// sineFrame builds the wide time series frame described in the package doc.
func sineFrame(q backend.DataQuery, model queryModel) *data.Frame {
	from, to := q.TimeRange.From, q.TimeRange.To
	step := q.Interval
	if q.MaxDataPoints > 0 {
		if perPoint := to.Sub(from) / time.Duration(q.MaxDataPoints); perPoint > step {
			step = perPoint
		}
	}
	if step <= 0 {
		step = time.Second
	}
	amplitude := 1.0
	if model.Amplitude != nil {
		amplitude = *model.Amplitude
	}
	times := []time.Time{}
	values := []float64{}
	for t := from; t.Before(to); t = t.Add(step) {
		times = append(times, t)
		values = append(values, amplitude*math.Sin(float64(t.UnixNano())/1e9))
	}
	return data.NewFrame(q.RefID,
		data.NewField("time", nil, times),
		data.NewField("value", data.Labels(model.Labels), values),
	)
}

func (p *plugin) querySine(_ context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return forEachQuery(req, func(q backend.DataQuery, m queryModel) backend.DataResponse {
		return backend.DataResponse{Frames: data.Frames{sineFrame(q, m)}}
	}), nil
}

// queryDefault answers queryType "" like "sine" and any other unregistered
// type with the error the SDK's own fallback would give.
func (p *plugin) queryDefault(_ context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return forEachQuery(req, func(q backend.DataQuery, m queryModel) backend.DataResponse {
		if q.QueryType != "" {
			return backend.DataResponse{Error: fmt.Errorf("no handler found for query type '%s'", q.QueryType)}
		}
		return backend.DataResponse{Frames: data.Frames{sineFrame(q, m)}}
	}), nil
}

func (p *plugin) queryError(_ context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return forEachQuery(req, func(q backend.DataQuery, m queryModel) backend.DataResponse {
		backend.Logger.Warn("query failed on purpose", "refId", q.RefID, "message", m.Message)
		return backend.DataResponse{Error: fmt.Errorf("%s", m.Message)}
	}), nil
}

// querySlow honours cancellation: when the host cancels the call (deadline,
// client gone) the handler stops waiting and fails the request.
func (p *plugin) querySlow(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	var cancelled error
	resp := forEachQuery(req, func(q backend.DataQuery, m queryModel) backend.DataResponse {
		if cancelled == nil {
			select {
			case <-time.After(time.Duration(m.DurationMS) * time.Millisecond):
			case <-ctx.Done():
				cancelled = ctx.Err()
				backend.Logger.Info("slow query cancelled", "refId", q.RefID, "error", cancelled)
			}
		}
		return backend.DataResponse{Frames: data.Frames{sineFrame(q, m)}}
	})
	if cancelled != nil {
		return nil, cancelled
	}
	return resp, nil
}

// queryBenchFrame answers the benchmark's large frame (tests/bench): the
// data is built in plain Go slices, the way an SDK user would.
func (p *plugin) queryBenchFrame(_ context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return forEachQuery(req, func(q backend.DataQuery, m queryModel) backend.DataResponse {
		times := make([]time.Time, m.Rows)
		values := make([]float64, m.Rows)
		for i := range times {
			times[i] = q.TimeRange.From.Add(time.Duration(i) * time.Second)
			values[i] = float64(i) * 0.5
		}
		frame := data.NewFrame(q.RefID, data.NewField("time", nil, times), data.NewField("value", nil, values))
		return backend.DataResponse{Frames: data.Frames{frame}}
	}), nil
}

func (p *plugin) CheckHealth(_ context.Context, req *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if _, err := p.instances.Get(req.PluginContext); err != nil {
		return nil, err
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: "plugin is running"}, nil
}

func handlePing(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok": true}`))
}

// handleStream sends three messages, 50 ms apart (httpadapter turns every
// Flush into one CallResourceResponse; contract 5.6).
func handleStream(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	for i := 0; i < 3; i++ {
		_, _ = fmt.Fprintf(w, "chunk %d\n", i)
		w.(http.Flusher).Flush()
		time.Sleep(50 * time.Millisecond)
	}
}

// handleProcess reports how the host launched this process.
func handleProcess(w http.ResponseWriter, _ *http.Request) {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if i := strings.IndexByte(kv, '='); i > 0 {
			env[kv[:i]] = kv[i+1:]
		}
	}
	cwd, _ := os.Getwd()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]interface{}{"env": env, "cwd": cwd, "args": os.Args})
}

func main() {
	p := &plugin{instances: datasource.NewInstanceManager(newInstance)}

	mux := datasource.NewQueryTypeMux()
	mux.HandleFunc("", p.queryDefault) // the fallback: "" and unknown types
	mux.HandleFunc("sine", p.querySine)
	mux.HandleFunc("error", p.queryError)
	mux.HandleFunc("slow", p.querySlow)
	mux.HandleFunc("bench_frame", p.queryBenchFrame)

	routes := http.NewServeMux()
	routes.HandleFunc("/ping", handlePing)
	routes.HandleFunc("/stream", handleStream)
	routes.HandleFunc("/process", handleProcess)

	err := datasource.Serve(datasource.ServeOpts{
		CheckHealthHandler:  p,
		CallResourceHandler: httpadapter.New(routes),
		QueryDataHandler:    mux,
	})
	if err != nil {
		backend.Logger.Error("plugin server exited with an error", "error", err)
		os.Exit(1)
	}
}
