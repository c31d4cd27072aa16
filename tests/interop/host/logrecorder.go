package main

// A recording hclog.Logger.
//
// go-plugin reports two kinds of log records through the ClientConfig.Logger
// (contract 1.11, 1.12):
//   - its own messages ("starting plugin", "plugin process exited",
//     "plugin failed to exit gracefully", ...), logged on the logger itself;
//   - every stderr line of the plugin, parsed from hclog JSON, logged on
//     Logger.Named(filepath.Base(executable)).
// Plutono forwards both to its own logger. The harness instead keeps every
// record in memory so that tests can assert on what the host received, e.g.
// the level and key/values of a plugin log line, or that Kill() had to fall
// back to SIGKILL.

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// logRecord is one record as reported over the JSON-lines protocol.
type logRecord struct {
	Seq     int64             `json:"seq"`
	TimeMS  int64             `json:"time_ms"`
	Level   string            `json:"level"`
	Logger  string            `json:"logger"`
	Message string            `json:"message"`
	KV      map[string]string `json:"kv"`
}

// logStore is shared by all loggers derived with Named/With.
type logStore struct {
	mu      sync.Mutex
	records []logRecord
	next    int64
	echo    io.Writer // debugging copy (stderr of the host); may be nil
}

func (s *logStore) add(rec logRecord) {
	s.mu.Lock()
	s.next++
	rec.Seq = s.next
	s.records = append(s.records, rec)
	s.mu.Unlock()
	if s.echo != nil {
		fmt.Fprintf(s.echo, "[host-log %s] %s: %s %v\n", rec.Level, rec.Logger, rec.Message, rec.KV)
	}
}

// since returns records with Seq > seq and the highest Seq handed out so far.
func (s *logStore) since(seq int64) ([]logRecord, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []logRecord{}
	for _, r := range s.records {
		if r.Seq > seq {
			out = append(out, r)
		}
	}
	return out, s.next
}

// lastSeq is the sequence number of the newest record (0 when none).
func (s *logStore) lastSeq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// recordingLogger implements hclog.Logger (go-hclog v0.15.0, as used by
// Plutono 7.5.49) by appending to a logStore. All levels are recorded,
// including Trace, so nothing the plugin sends is lost.
type recordingLogger struct {
	store   *logStore
	name    string
	implied []interface{}
}

var _ hclog.Logger = (*recordingLogger)(nil)

func newRecordingLogger(echo io.Writer) *recordingLogger {
	return &recordingLogger{store: &logStore{echo: echo}}
}

// stringify renders a key/value value as a string: errors via Error(),
// strings as-is, everything else as JSON (numbers, nested objects from a
// parsed plugin line) with fmt as a last resort.
func stringify(v interface{}) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

func (l *recordingLogger) Log(level hclog.Level, msg string, args ...interface{}) {
	all := append(append([]interface{}{}, l.implied...), args...)
	kv := map[string]string{}
	for i := 0; i < len(all); i += 2 {
		key := stringify(all[i])
		if i+1 < len(all) {
			kv[key] = stringify(all[i+1])
		} else {
			kv[key] = ""
		}
	}
	l.store.add(logRecord{
		TimeMS:  time.Now().UnixNano() / int64(time.Millisecond),
		Level:   strings.ToLower(level.String()),
		Logger:  l.name,
		Message: msg,
		KV:      kv,
	})
}

func (l *recordingLogger) Trace(msg string, args ...interface{}) { l.Log(hclog.Trace, msg, args...) }
func (l *recordingLogger) Debug(msg string, args ...interface{}) { l.Log(hclog.Debug, msg, args...) }
func (l *recordingLogger) Info(msg string, args ...interface{})  { l.Log(hclog.Info, msg, args...) }
func (l *recordingLogger) Warn(msg string, args ...interface{})  { l.Log(hclog.Warn, msg, args...) }
func (l *recordingLogger) Error(msg string, args ...interface{}) { l.Log(hclog.Error, msg, args...) }

func (l *recordingLogger) IsTrace() bool { return true }
func (l *recordingLogger) IsDebug() bool { return true }
func (l *recordingLogger) IsInfo() bool  { return true }
func (l *recordingLogger) IsWarn() bool  { return true }
func (l *recordingLogger) IsError() bool { return true }

func (l *recordingLogger) ImpliedArgs() []interface{} { return l.implied }

func (l *recordingLogger) Name() string { return l.name }

func (l *recordingLogger) With(args ...interface{}) hclog.Logger {
	return &recordingLogger{store: l.store, name: l.name, implied: append(append([]interface{}{}, l.implied...), args...)}
}

// Named appends like hclog does ("a.b"); go-plugin calls it once with the
// executable's base name for plugin stderr lines, which is what tests filter on.
func (l *recordingLogger) Named(name string) hclog.Logger {
	full := name
	if l.name != "" {
		full = l.name + "." + name
	}
	return &recordingLogger{store: l.store, name: full, implied: l.implied}
}

func (l *recordingLogger) ResetNamed(name string) hclog.Logger {
	return &recordingLogger{store: l.store, name: name, implied: l.implied}
}

func (l *recordingLogger) SetLevel(hclog.Level) {}

func (l *recordingLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

func (l *recordingLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &lineWriter{logger: l}
}

// lineWriter turns writes of a standard logger into Info records.
type lineWriter struct{ logger *recordingLogger }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.logger.Info(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// stderrEcho is where records are echoed for humans; the Python side points
// the host's stderr at a file.
var stderrEcho io.Writer = os.Stderr
