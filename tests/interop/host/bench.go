package main

// The bench_query command: load generation for the benchmark harness
// (tests/bench). The load has to come from Go: a Python driver issuing calls
// would be the bottleneck, not the plugin under test. N workers share one
// go-plugin connection (as Plutono's concurrent requests do) and each issues
// the same QueryData request back to back, for a duration or a number of
// calls; the reply carries throughput and latency percentiles.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type benchArgs struct {
	PluginContext *pluginContextJSON `json:"plugin_context"`
	Headers       map[string]string  `json:"headers"`
	Queries       []queryJSON        `json:"queries"`
	// Concurrency is the number of calls in flight (workers), default 1.
	Concurrency int `json:"concurrency"`
	// DurationMS stops issuing new calls after that long; Count after that
	// many calls (whichever comes first; at least one of them is required).
	DurationMS int64 `json:"duration_ms"`
	Count      int64 `json:"count"`
	// Warmup calls run (with the same concurrency) before measuring.
	Warmup int64 `json:"warmup"`
	// TimeoutMS bounds each call (default 30 s).
	TimeoutMS int64 `json:"timeout_ms"`
	// Mix, when given, cycles each worker's calls through these kinds: "ok" (a
	// normal call), "cancel" (the context is cancelled after cancel_after_ms,
	// like a browser tab closing), "deadline" (a deadline of deadline_ms, like
	// alerting's evaluation timeout) and "resource_cancel" (CallResource of
	// resource_path, cancelled after cancel_after_ms while it streams). The
	// Canceled / DeadlineExceeded errors those kinds cause are expected, not
	// failures; latencies are only kept for "ok" calls.
	Mix           []string `json:"mix"`
	CancelAfterMS int64    `json:"cancel_after_ms"`
	DeadlineMS    int64    `json:"deadline_ms"`
	ResourcePath  string   `json:"resource_path"`
}

// callKind is one call of a mixed load.
type callKind struct {
	mode     string
	cancel   time.Duration
	deadline time.Duration
	resource *pluginv2.CallResourceRequest
}

// expected reports whether err is what a call of this kind should end with.
func (k callKind) expected(err error) bool {
	code := status.Code(err)
	switch k.mode {
	case "cancel", "resource_cancel":
		return code == codes.Canceled
	case "deadline":
		return code == codes.DeadlineExceeded
	}
	return false
}

func (k callKind) context(timeout time.Duration) (context.Context, context.CancelFunc) {
	switch k.mode {
	case "deadline":
		return context.WithTimeout(context.Background(), k.deadline)
	case "cancel", "resource_cancel":
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		timer := time.AfterFunc(k.cancel, cancel)
		return ctx, func() { timer.Stop(); cancel() }
	}
	return context.WithTimeout(context.Background(), timeout)
}

// callResource reads the whole stream (or until the context ends it).
func callResource(ctx context.Context, client grpcplugin.ResourceClient, req *pluginv2.CallResourceRequest) error {
	stream, err := client.CallResource(ctx, req)
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// percentile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(sorted) {
		rank = len(sorted) - 1
	}
	return float64(sorted[rank].Microseconds()) / 1000
}

// runLoad issues calls from `workers` goroutines until `count` calls were
// started (count > 0) or `until` passed; it returns every call's latency and
// the first error seen.
func runLoad(data pluginv2.DataClient, req *pluginv2.QueryDataRequest, workers int, count int64,
	until time.Time, timeout time.Duration) ([]time.Duration, int64, error) {
	latencies, failures, _, err := runMixedLoad(data, nil, req, []callKind{{mode: "ok"}}, workers, count, until, timeout)
	return latencies, failures, err
}

// runMixedLoad is runLoad with calls of several kinds; it also counts the
// calls that ended as their kind expects (cancelled, deadline exceeded).
func runMixedLoad(data pluginv2.DataClient, resource grpcplugin.ResourceClient,
	req *pluginv2.QueryDataRequest, kinds []callKind, workers int, count int64,
	until time.Time, timeout time.Duration) ([]time.Duration, int64, int64, error) {
	var expected int64
	var (
		issued   int64
		failures int64
		mu       sync.Mutex
		all      []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for n := 0; ; n++ {
				kind := kinds[n%len(kinds)]
				if count > 0 && atomic.AddInt64(&issued, 1) > count {
					break
				}
				if !until.IsZero() && time.Now().After(until) {
					break
				}
				ctx, cancel := kind.context(timeout)
				began := time.Now()
				var resp *pluginv2.QueryDataResponse
				var err error
				if kind.resource != nil {
					err = callResource(ctx, resource, kind.resource)
				} else {
					resp, err = data.QueryData(ctx, req)
				}
				elapsed := time.Since(began)
				cancel()
				if kind.mode != "ok" {
					if err == nil || kind.expected(err) {
						atomic.AddInt64(&expected, 1)
						continue
					}
				}
				if err == nil && resp != nil {
					for refID, r := range resp.Responses {
						if r.Error != "" {
							err = fmt.Errorf("refId %s: %s", refID, r.Error)
							break
						}
					}
				}
				if err != nil {
					atomic.AddInt64(&failures, 1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				local = append(local, elapsed)
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, failures, expected, firstErr
}

// benchQuery is the bench_query command (schema in tests/interop/README.md).
func (p *managedPlugin) benchQuery(args benchArgs) reply {
	s, err := p.current()
	if err != nil {
		return reply{"ok": false, "error": err.Error()}
	}
	if args.DurationMS <= 0 && args.Count <= 0 {
		return reply{"ok": false, "error": "bench_query: give duration_ms or count (or both)"}
	}
	workers := args.Concurrency
	if workers <= 0 {
		workers = 1
	}
	timeout := 30 * time.Second
	if args.TimeoutMS > 0 {
		timeout = time.Duration(args.TimeoutMS) * time.Millisecond
	}
	req := &pluginv2.QueryDataRequest{PluginContext: args.PluginContext.toProto(s.pluginID), Headers: args.Headers}
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
	kinds := []callKind{{mode: "ok"}}
	if len(args.Mix) > 0 {
		kinds = kinds[:0]
		for _, mode := range args.Mix {
			kind := callKind{
				mode:     mode,
				cancel:   time.Duration(args.CancelAfterMS) * time.Millisecond,
				deadline: time.Duration(args.DeadlineMS) * time.Millisecond,
			}
			switch mode {
			case "ok", "cancel", "deadline":
			case "resource_cancel":
				kind.resource = &pluginv2.CallResourceRequest{
					PluginContext: req.PluginContext, Method: "GET",
					Path: args.ResourcePath, Url: args.ResourcePath,
				}
			default:
				return reply{"ok": false, "error": "bench_query: unknown mix kind " + mode}
			}
			kinds = append(kinds, kind)
		}
	}
	if args.Warmup > 0 {
		if _, _, err := runLoad(s.clients.data, req, workers, args.Warmup, time.Time{}, timeout); err != nil {
			return reply{"ok": false, "error": "warm-up call failed: " + err.Error()}
		}
	}
	var until time.Time
	began := time.Now()
	if args.DurationMS > 0 {
		until = began.Add(time.Duration(args.DurationMS) * time.Millisecond)
	}
	latencies, failures, expected, firstErr := runMixedLoad(
		s.clients.data, s.clients.resource, req, kinds, workers, args.Count, until, timeout)
	elapsed := time.Since(began)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	out := reply{
		"ok":          failures == 0,
		"calls":       len(latencies),
		"failures":    failures,
		"expected":    expected,
		"concurrency": workers,
		"elapsed_ms":  float64(elapsed.Microseconds()) / 1000,
		"per_second":  float64(len(latencies)) / elapsed.Seconds(),
		"p50_ms":      percentile(latencies, 50),
		"p99_ms":      percentile(latencies, 99),
		"min_ms":      percentile(latencies, 0),
		"max_ms":      percentile(latencies, 100),
	}
	if firstErr != nil {
		out["error"] = fmt.Sprintf("%d of %d calls failed; first: %v", failures, int64(len(latencies))+failures, firstErr)
	}
	return out
}
