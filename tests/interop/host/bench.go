package main

// The bench_query command: load generation for the benchmark harness
// (tests/bench). The load has to come from Go: a Python driver issuing calls
// would be the bottleneck, not the plugin under test. N workers share one
// go-plugin connection (as Plutono's concurrent requests do) and each issues
// the same QueryData request back to back, for a duration or a number of
// calls; the reply carries throughput and latency percentiles.

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
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
			for {
				if count > 0 && atomic.AddInt64(&issued, 1) > count {
					break
				}
				if !until.IsZero() && time.Now().After(until) {
					break
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				began := time.Now()
				resp, err := data.QueryData(ctx, req)
				elapsed := time.Since(began)
				cancel()
				if err == nil {
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
	return all, failures, firstErr
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
	latencies, failures, firstErr := runLoad(s.clients.data, req, workers, args.Count, until, timeout)
	elapsed := time.Since(began)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	out := reply{
		"ok":          failures == 0,
		"calls":       len(latencies),
		"failures":    failures,
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
