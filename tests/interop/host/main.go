// Command host is a stand-in for Plutono 7.5.49's backend-plugin host: it
// launches one plugin with hashicorp/go-plugin v1.4.0 and talks to it with
// the grafana-plugin-sdk-go v0.88.0 pluginv2 client types, configured the
// way Plutono configures them (see plugin.go).
//
// It is driven over a JSON-lines protocol: one command object per line on
// stdin, one reply object per line on stdout; stderr carries debugging
// output only. The schema is documented in tests/interop/README.md.
// A plugin error never ends the host: it becomes {"ok": false, "error": ...}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// command is the envelope every line shares; the rest of the object holds
// the command's own arguments.
type command struct {
	Cmd string          `json:"cmd"`
	ID  json.RawMessage `json:"id"`
	// Background runs the command on its own goroutine; the immediate reply
	// is {"ok": true, "job": N} and "wait" fetches the real reply. This lets
	// a test kill or signal the plugin while a query is in flight.
	Background bool `json:"background"`
}

type server struct {
	plugin *managedPlugin
	out    *json.Encoder
	outMu  sync.Mutex

	jobsMu  sync.Mutex
	jobs    map[int]chan reply
	nextJob int
}

func (s *server) write(r reply, id json.RawMessage) {
	if len(id) > 0 {
		r["id"] = id
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if err := s.out.Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "host: cannot write reply:", err)
	}
}

// decode unmarshals the command line into the command's argument struct.
func decode(line []byte, into interface{}) error {
	if err := json.Unmarshal(line, into); err != nil {
		return fmt.Errorf("bad arguments: %w", err)
	}
	return nil
}

// dispatch runs one command and returns its reply.
func (s *server) dispatch(name string, line []byte) reply {
	p := s.plugin
	switch name {
	case "start":
		var opts startOptions
		if err := decode(line, &opts); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		if err := p.configure(opts); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		err := p.start()
		p.mu.Lock()
		r := reply{"handshake_ms": p.handshakeMS, "negotiated_version": p.negotiated, "executable": p.executable}
		p.mu.Unlock()
		r["pid"] = p.pid()
		if err != nil {
			r["ok"], r["error"] = false, err.Error()
		} else {
			r["ok"] = true
		}
		return r
	case "ping":
		return p.ping()
	case "check_health":
		var args healthArgs
		if err := decode(line, &args); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		return p.checkHealth(args)
	case "metrics":
		var args timing
		if err := decode(line, &args); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		return p.collectMetrics(args)
	case "query":
		var args queryArgs
		if err := decode(line, &args); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		return p.query(args)
	case "bench_query":
		var args benchArgs
		if err := decode(line, &args); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		return p.benchQuery(args)
	case "resource":
		var args resourceArgs
		if err := decode(line, &args); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		return p.resource(args)
	case "kill":
		return p.kill()
	case "signal":
		var args struct {
			Name string `json:"name"`
		}
		if err := decode(line, &args); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		if err := p.signal(args.Name); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		return reply{"ok": true}
	case "exited":
		return p.exitState()
	case "watch_restart":
		var args struct {
			Enable *bool `json:"enable"`
		}
		if err := decode(line, &args); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		p.watch(args.Enable == nil || *args.Enable)
		return reply{"ok": true}
	case "restarts":
		return p.restartState()
	case "logs":
		var args struct {
			Since int64 `json:"since"`
		}
		if err := decode(line, &args); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		records, last := p.logger.store.since(args.Since)
		return reply{"ok": true, "records": records, "last_seq": last}
	case "wait":
		var args struct {
			Job       int   `json:"job"`
			TimeoutMS int64 `json:"timeout_ms"`
		}
		if err := decode(line, &args); err != nil {
			return reply{"ok": false, "error": err.Error()}
		}
		return s.wait(args.Job, args.TimeoutMS)
	}
	return reply{"ok": false, "error": fmt.Sprintf("unknown command %q", name)}
}

// background starts a job and returns its number.
func (s *server) background(name string, line []byte) int {
	s.jobsMu.Lock()
	s.nextJob++
	job := s.nextJob
	done := make(chan reply, 1)
	s.jobs[job] = done
	s.jobsMu.Unlock()
	go func() { done <- s.dispatch(name, line) }()
	return job
}

func (s *server) wait(job int, timeoutMS int64) reply {
	s.jobsMu.Lock()
	done, ok := s.jobs[job]
	s.jobsMu.Unlock()
	if !ok {
		return reply{"ok": false, "error": fmt.Sprintf("wait: no job %d (each job can be waited for once)", job)}
	}
	if timeoutMS <= 0 {
		timeoutMS = 30000
	}
	select {
	case r := <-done:
		s.jobsMu.Lock()
		delete(s.jobs, job)
		s.jobsMu.Unlock()
		return r
	case <-time.After(time.Duration(timeoutMS) * time.Millisecond):
		return reply{"ok": false, "error": fmt.Sprintf("wait: job %d still running after %d ms", job, timeoutMS), "pending": true}
	}
}

// shutdown kills the plugin, but gives up after a while so that a host
// stuck in a command (e.g. a handshake holding the plugin lock) still exits.
func (s *server) shutdown() reply {
	done := make(chan reply, 1)
	go func() { done <- s.plugin.kill() }()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		return reply{"ok": false, "error": "quit: killing the plugin did not finish within 10 s"}
	}
}

func main() {
	s := &server{
		plugin: &managedPlugin{logger: newRecordingLogger(stderrEcho)},
		out:    json.NewEncoder(os.Stdout),
		jobs:   map[int]chan reply{},
	}
	// Commands run one at a time on a worker goroutine, in order; the reader
	// stays free so that "quit" and end of input work even while a command
	// hangs (the Python side's per-command timeout then closes the host).
	type queued struct {
		cmd  command
		line []byte
	}
	work := make(chan queued, 64)
	go func() {
		for q := range work {
			if q.cmd.Background {
				s.write(reply{"ok": true, "job": s.background(q.cmd.Cmd, q.line)}, q.cmd.ID)
				continue
			}
			s.write(s.dispatch(q.cmd.Cmd, q.line), q.cmd.ID)
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		line := append([]byte{}, in.Bytes()...)
		if len(line) == 0 {
			continue
		}
		var c command
		if err := json.Unmarshal(line, &c); err != nil {
			s.write(reply{"ok": false, "error": "command is not a JSON object: " + err.Error()}, nil)
			continue
		}
		if c.Cmd == "quit" {
			s.write(s.shutdown(), c.ID)
			return
		}
		work <- queued{cmd: c, line: line}
	}
	// stdin closed (the test process went away): never leak the plugin.
	s.shutdown()
}
