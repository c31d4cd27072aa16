package main

// Process lifecycle of one backend plugin, configured exactly like Plutono
// 7.5.49 configures go-plugin (credativ/plutono@v7.5.49
// pkg/plugins/backendplugin/grpcplugin/client.go newClientConfig,
// grpc_plugin.go Start/Stop/Exited, manager.go restartKilledProcess).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Values Plutono passes to every plugin (contract 1.2 item 2).
const (
	plutonoVersion = "7.5.49"
	plutonoEdition = "Open Source"
)

// handshake is Plutono's HandshakeConfig: protocol version 1 (the legacy
// default) while the SDK plugin answers 2 (contract 1.4); the magic cookie
// constants come from the SDK so they cannot drift (contract 1.3).
var handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   grpcplugin.MagicCookieKey,
	MagicCookieValue: grpcplugin.MagicCookieValue,
}

// legacyPlugin stands in for Plutono's v1 set (grafana-plugin-model's
// DatasourcePluginImpl). It exists only so that the host announces
// PLUGIN_PROTOCOL_VERSIONS "1,2" like Plutono does (contract 1.2 item 5);
// the harness refuses to drive a plugin that negotiates version 1.
type legacyPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (legacyPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the harness never serves plugins")
}

func (legacyPlugin) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (interface{}, error) {
	return nil, nil
}

// versionedPlugins mirrors NewBackendPlugin: 1 → legacy set keyed by the
// plugin id, 2 → the SDK v0.88.0 client types. Plutono also dispenses a
// "renderer" client; it is only used for renderer plugins, so it is left out.
func versionedPlugins(pluginID string) map[int]goplugin.PluginSet {
	return map[int]goplugin.PluginSet{
		1: {pluginID: legacyPlugin{}},
		grpcplugin.ProtocolVersion: {
			"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
			"resource":    &grpcplugin.ResourceGRPCPlugin{},
			"data":        &grpcplugin.DataGRPCPlugin{},
		},
	}
}

// startOptions is the "start" command.
type startOptions struct {
	Dir      string `json:"dir"`
	PluginID string `json:"plugin_id"`
	// Settings are the keys of the ini section [plugin.<id>]; each becomes
	// PL_PLUGIN_<UPPER(KEY)> except "path" and "id" (contract 1.2 item 1).
	Settings map[string]string `json:"settings"`
	// Env entries sit where Plutono puts its AWS variables (contract 1.2
	// item 3): after PL_VERSION/PL_EDITION, before the host's own
	// environment, which therefore overrides them.
	Env map[string]string `json:"env"`
	// Executable overrides the path composed from plugin.json.
	Executable string `json:"executable"`
}

// pluginClients are the typed stubs dispensed after a v2 handshake.
type pluginClients struct {
	diagnostics grpcplugin.DiagnosticsClient
	resource    grpcplugin.ResourceClient
	data        grpcplugin.DataClient
}

// managedPlugin is the equivalent of Plutono's grpcPlugin plus the restart
// goroutine of its plugin manager.
type managedPlugin struct {
	logger *recordingLogger

	mu          sync.Mutex
	opts        startOptions
	executable  string
	env         []string
	client      *goplugin.Client
	cmd         *exec.Cmd
	rpc         goplugin.ClientProtocol
	clients     *pluginClients
	negotiated  int
	handshakeMS float64

	restarts      int
	restartErrors []string
	stopWatch     context.CancelFunc
}

// composeExecutable mirrors ComposePluginStartCommand (contract 2.1):
// <dir>/<executable>_<GOOS>_<lower(GOARCH)>[.exe].
func composeExecutable(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "plugin.json"))
	if err != nil {
		return "", fmt.Errorf("cannot read plugin.json: %w", err)
	}
	var meta struct {
		Executable string `json:"executable"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return "", fmt.Errorf("plugin.json is not valid JSON: %w", err)
	}
	if meta.Executable == "" {
		return "", errors.New("plugin.json has no \"executable\"")
	}
	ext := ""
	if runtime.GOOS == "windows" {
		ext = ".exe"
	}
	name := fmt.Sprintf("%s_%s_%s%s", meta.Executable, runtime.GOOS, strings.ToLower(runtime.GOARCH), ext)
	return filepath.Join(dir, name), nil
}

// pluginEnv builds cmd.Env in Plutono's order (contract 1.2 items 1-3);
// go-plugin appends os.Environ() and its own variables in Start().
func pluginEnv(opts startOptions) []string {
	env := []string{}
	keys := make([]string, 0, len(opts.Settings))
	for k := range opts.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "path" || strings.EqualFold(k, "id") {
			continue
		}
		env = append(env, fmt.Sprintf("PL_PLUGIN_%s=%s", strings.ToUpper(k), opts.Settings[k]))
	}
	env = append(env, "PL_VERSION="+plutonoVersion, "PL_EDITION="+plutonoEdition)
	keys = keys[:0]
	for k := range opts.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+opts.Env[k])
	}
	return env
}

// configure validates the start options and remembers them for restarts.
func (p *managedPlugin) configure(opts startOptions) error {
	if opts.PluginID == "" {
		return errors.New("start: plugin_id is required")
	}
	executable := opts.Executable
	if executable == "" {
		if opts.Dir == "" {
			return errors.New("start: dir (or executable) is required")
		}
		var err error
		if executable, err = composeExecutable(opts.Dir); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil && !p.client.Exited() {
		return errors.New("start: a plugin process is already running; kill it first")
	}
	p.opts, p.executable, p.env = opts, executable, pluginEnv(opts)
	return nil
}

// start launches a new process and connects, like grpcPlugin.Start. It
// returns the time from NewClient/Client() to a connected client.
func (p *managedPlugin) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	// exec.Command without arguments and without Dir: the child inherits the
	// host's cwd, not the plugin directory (contract 1.1).
	cmd := exec.Command(p.executable)
	cmd.Env = append([]string{}, p.env...)
	client := goplugin.NewClient(&goplugin.ClientConfig{
		Cmd:              cmd,
		HandshakeConfig:  handshake,
		VersionedPlugins: versionedPlugins(p.opts.PluginID),
		Logger:           p.logger,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
	})
	began := time.Now()
	rpc, err := client.Client()
	elapsed := float64(time.Since(began).Microseconds()) / 1000
	p.client, p.cmd, p.rpc, p.clients, p.handshakeMS = client, cmd, nil, nil, elapsed
	p.negotiated = client.NegotiatedVersion()
	if err != nil {
		client.Kill()
		return err
	}
	p.rpc = rpc
	if p.negotiated < 2 {
		client.Kill()
		return fmt.Errorf("plugin negotiated protocol version %d; the harness drives only pluginv2 (version 2)", p.negotiated)
	}
	// Dispensing is client-side only and always succeeds (contract 2.3).
	clients := &pluginClients{}
	for name, target := range map[string]interface{}{
		"diagnostics": &clients.diagnostics, "resource": &clients.resource, "data": &clients.data,
	} {
		raw, err := rpc.Dispense(name)
		if err != nil {
			client.Kill()
			return fmt.Errorf("dispense %s: %w", name, err)
		}
		switch t := target.(type) {
		case *grpcplugin.DiagnosticsClient:
			*t, _ = raw.(grpcplugin.DiagnosticsClient)
		case *grpcplugin.ResourceClient:
			*t, _ = raw.(grpcplugin.ResourceClient)
		case *grpcplugin.DataClient:
			*t, _ = raw.(grpcplugin.DataClient)
		}
	}
	p.clients = clients
	return nil
}

// snapshot is what an RPC needs, read under the lock like grpcPlugin does.
type snapshot struct {
	client   *goplugin.Client
	rpc      goplugin.ClientProtocol
	clients  *pluginClients
	pluginID string
}

func (p *managedPlugin) current() (snapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil || p.clients == nil {
		return snapshot{}, errors.New("no plugin started")
	}
	return snapshot{client: p.client, rpc: p.rpc, clients: p.clients, pluginID: p.opts.PluginID}, nil
}

// pid of the current process (0 when none).
func (p *managedPlugin) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// exitState reports whether the process exited and, if so, how. go-plugin
// sets Exited() only after cmd.Wait returned, so ProcessState is ready.
func (p *managedPlugin) exitState() map[string]interface{} {
	p.mu.Lock()
	client, cmd := p.client, p.cmd
	p.mu.Unlock()
	if client == nil {
		return map[string]interface{}{"ok": true, "exited": true, "started": false}
	}
	reply := map[string]interface{}{"ok": true, "exited": client.Exited(), "started": true}
	if client.Exited() && cmd.ProcessState != nil {
		reply["exit_code"] = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			reply["signal"] = ws.Signal().String()
		}
	}
	return reply
}

// kill is grpcPlugin.Stop: go-plugin's Kill() (Shutdown RPC, up to 2 s,
// then SIGKILL; contract 1.12). The restart watcher is stopped first, as
// Plutono only stops plugins at server shutdown.
func (p *managedPlugin) kill() map[string]interface{} {
	p.watch(false)
	p.mu.Lock()
	client := p.client
	p.mu.Unlock()
	if client == nil {
		return map[string]interface{}{"ok": true, "exited": true, "graceful": true, "elapsed_ms": 0}
	}
	mark := p.logger.store.lastSeq()
	began := time.Now()
	client.Kill()
	elapsed := float64(time.Since(began).Microseconds()) / 1000
	records, _ := p.logger.store.since(mark)
	graceful := true
	for _, r := range records {
		if r.Logger == "" && r.Message == "plugin failed to exit gracefully" {
			graceful = false
		}
	}
	return map[string]interface{}{"ok": true, "elapsed_ms": elapsed, "exited": client.Exited(), "graceful": graceful}
}

var signals = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL,
	"HUP": syscall.SIGHUP, "QUIT": syscall.SIGQUIT,
}

func (p *managedPlugin) signal(name string) error {
	sig, ok := signals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	if !ok {
		return fmt.Errorf("signal: unknown signal %q (use TERM, INT, KILL, HUP or QUIT)", name)
	}
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return errors.New("signal: no plugin process")
	}
	return cmd.Process.Signal(sig)
}

// watch starts or stops Plutono's restart policy: every second, if the
// process has exited, start it again; failures are logged and retried on
// the next tick, forever (contract 1.13).
func (p *managedPlugin) watch(enable bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopWatch != nil {
		p.stopWatch()
		p.stopWatch = nil
	}
	if !enable {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stopWatch = cancel
	pluginID := p.opts.PluginID
	go func() {
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			p.mu.Lock()
			exited := p.client == nil || p.client.Exited()
			p.mu.Unlock()
			if !exited || ctx.Err() != nil {
				continue
			}
			p.logger.Debug("Restarting plugin", "pluginId", pluginID)
			err := p.start()
			p.mu.Lock()
			if err != nil {
				p.restartErrors = append(p.restartErrors, err.Error())
			} else {
				p.restarts++
			}
			p.mu.Unlock()
			if err != nil {
				p.logger.Error("Failed to restart plugin", "pluginId", pluginID, "error", err)
			} else {
				p.logger.Debug("Plugin restarted", "pluginId", pluginID)
			}
		}
	}()
}

func (p *managedPlugin) restartState() map[string]interface{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	pid := 0
	if p.cmd != nil && p.cmd.Process != nil {
		pid = p.cmd.Process.Pid
	}
	return map[string]interface{}{
		"ok": true, "restarts": p.restarts, "errors": append([]string{}, p.restartErrors...),
		"last_handshake_ms": p.handshakeMS, "pid": pid, "watching": p.stopWatch != nil,
	}
}
