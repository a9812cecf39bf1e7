package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// The Vault server these tests run is built by vaultserver.sh (Vault
// v1.19.0) into a cache outside the repository. VAULT_BIN overrides the
// binary. A missing binary FAILS the tests, unless ENVKMS_SKIP_VAULT=1 says
// explicitly to skip them.

const vaultRootToken = "root"

// vaultBinary returns the Vault server binary, building it with
// vaultserver.sh if needed (about 20 minutes cold).
func vaultBinary(t testing.TB) string {
	t.Helper()
	if os.Getenv("ENVKMS_SKIP_VAULT") == "1" {
		t.Skip("ENVKMS_SKIP_VAULT=1: skipping tests that need a Vault server")
	}
	vaultBinOnce.Do(func() { vaultBin, vaultBinErr = findVaultBinary() })
	if vaultBinErr != nil {
		t.Fatalf("VAULT SERVER NOT AVAILABLE: %v\n"+
			"Build it with internal/e2e/vaultserver.sh (or set VAULT_BIN); set ENVKMS_SKIP_VAULT=1 to skip the Vault tests deliberately.", vaultBinErr)
	}
	return vaultBin
}

// Test-binary-wide state: the binary path and the shared dev server.
var (
	vaultBinOnce sync.Once
	vaultBin     string
	vaultBinErr  error

	devOnce   sync.Once
	devServer *vaultServer
	devErr    error
)

func findVaultBinary() (string, error) {
	if p := os.Getenv("VAULT_BIN"); p != "" {
		if err := exec.Command(p, "version").Run(); err != nil {
			return "", fmt.Errorf("VAULT_BIN=%s does not run: %v", p, err)
		}
		return p, nil
	}
	script, err := filepath.Abs("../../internal/e2e/vaultserver.sh")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s failed: %v\n%s", script, err, vaultTail(stderr.String(), 2000))
	}
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) == 0 {
		return "", fmt.Errorf("%s printed no path", script)
	}
	return lines[len(lines)-1], nil
}

func vaultTail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// vaultServer is one Vault server process. It runs under a small shell
// wrapper that kills Vault when the test binary's end of a pipe closes, so no
// server outlives the tests even if they crash.
type vaultServer struct {
	t        testing.TB
	bin      string
	dir      string   // HOME, config, storage, logs
	args     []string // vault server arguments
	port     int
	Addr     string // http://127.0.0.1:port
	Token    string // root token
	Unseal   string // unseal key (file-storage servers)
	dev      bool
	mu       sync.Mutex
	cmd      *exec.Cmd
	lifePipe *os.File // closing it stops the server
	logPath  string
}

// vaultFreePort returns a loopback port that was free a moment ago.
func vaultFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sharedDevVault returns the package's dev server (root token "root",
// transit enabled at transit/, KV v2 at secret/), started on first use and
// stopped when the test binary exits.
func sharedDevVault(t testing.TB) *vaultServer {
	t.Helper()
	bin := vaultBinary(t)
	devOnce.Do(func() { devServer, devErr = startDevVault(bin, nil) })
	if devErr != nil {
		t.Fatalf("start shared Vault dev server: %v", devErr)
	}
	return devServer
}

// newDevVault starts a private dev server, stopped by t.Cleanup.
func newDevVault(t testing.TB, extraArgs ...string) *vaultServer {
	t.Helper()
	s, err := startDevVault(vaultBinary(t), t, extraArgs...)
	if err != nil {
		t.Fatalf("start Vault dev server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// startDevVault starts a dev server; with "-dev-tls" among extraArgs it
// serves HTTPS with a CA written to s.dir (see tlsFile).
func startDevVault(bin string, t testing.TB, extraArgs ...string) (*vaultServer, error) {
	dir, err := os.MkdirTemp("", "envkms-vault-dev-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	scheme := "http"
	for _, a := range extraArgs {
		if a == "-dev-tls" {
			scheme = "https"
			extraArgs = append(extraArgs, "-dev-tls-cert-dir="+dir)
		}
	}
	s := &vaultServer{t: t, bin: bin, dir: dir, port: port, Token: vaultRootToken, dev: true,
		Addr: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)}
	s.args = append([]string{"server", "-dev", "-dev-root-token-id=" + vaultRootToken,
		"-dev-listen-address=127.0.0.1:" + strconv.Itoa(port), "-dev-no-store-token"}, extraArgs...)
	if err := s.start(); err != nil {
		return nil, err
	}
	if err := s.waitReady(30*time.Second, true); err != nil {
		s.Stop()
		return nil, err
	}
	c, err := s.client(s.Token)
	if err != nil {
		s.Stop()
		return nil, err
	}
	if err := c.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("enable transit: %v", err)
	}
	return s, nil
}

// newFileVault starts a non-dev server with file storage, initialises it
// (one unseal key) and unseals it, so its keys survive a restart. Stopped by
// t.Cleanup.
func newFileVault(t testing.TB) *vaultServer {
	t.Helper()
	bin := vaultBinary(t)
	dir := t.TempDir()
	port := vaultFreePort(t)
	cfg := fmt.Sprintf(`storage "file" { path = %q }
listener "tcp" {
  address     = "127.0.0.1:%d"
  tls_disable = 1
}
disable_mlock = true
api_addr      = "http://127.0.0.1:%d"
ui            = false
`, filepath.Join(dir, "data"), port, port)
	cfgPath := filepath.Join(dir, "vault.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &vaultServer{t: t, bin: bin, dir: dir, port: port, Addr: fmt.Sprintf("http://127.0.0.1:%d", port),
		args: []string{"server", "-config=" + cfgPath}}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if err := s.waitReady(30*time.Second, false); err != nil {
		t.Fatal(err)
	}
	c, err := s.client("")
	if err != nil {
		t.Fatal(err)
	}
	ir, err := c.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatalf("vault operator init: %v", err)
	}
	s.Token, s.Unseal = ir.RootToken, ir.Keys[0]
	s.unseal(t)
	c.SetToken(s.Token)
	if err := c.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatalf("enable transit: %v", err)
	}
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatalf("enable kv v2: %v", err)
	}
	vaultWaitKVReady(t, c)
	return s
}

// vaultWaitKVReady waits until a fresh KV v2 mount has finished its upgrade and
// accepts writes.
func vaultWaitKVReady(t testing.TB, c *api.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.Logical().Write("secret/data/envkms-probe", map[string]any{"data": map[string]any{"x": "1"}})
		if err == nil {
			_, _ = c.Logical().Delete("secret/metadata/envkms-probe")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("KV v2 not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *vaultServer) unseal(t testing.TB) {
	t.Helper()
	c, err := s.client("")
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Sys().Unseal(s.Unseal)
	if err != nil || st.Sealed {
		t.Fatalf("unseal: %v (sealed %v)", err, st != nil && st.Sealed)
	}
	if err := s.waitReady(30*time.Second, true); err != nil {
		t.Fatal(err)
	}
}

// start launches the server process.
func (s *vaultServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logPath = filepath.Join(s.dir, "vault.log")
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	// The wrapper starts Vault, records its pid, and kills it when stdin
	// (our pipe) reaches EOF: on Stop, or when the test binary dies.
	// (Background jobs of a non-interactive shell get /dev/null as stdin,
	// hence the explicit fd 3.)
	script := `exec 3<&0; "$@" </dev/null 3<&- & p=$!; echo $p > "$PIDFILE"; (cat <&3 >/dev/null; kill $p 2>/dev/null) & w=$!; exec 3<&-; wait $p; kill $w 2>/dev/null; if [ -n "$CLEANUP_DIR" ]; then cd / && rm -rf "$CLEANUP_DIR"; fi`
	cmd := exec.Command("sh", append([]string{"-c", script, "vault-wrapper", s.bin}, s.args...)...)
	cmd.Stdin = r
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = s.dir
	cmd.Env = []string{
		"HOME=" + s.dir,
		"PATH=" + os.Getenv("PATH"),
		"PIDFILE=" + filepath.Join(s.dir, "vault.pid"),
		"VAULT_DISABLE_USER_LOCKOUT=true",
	}
	if s.dev { // nothing to keep: remove HOME when Vault exits, however the tests end
		cmd.Env = append(cmd.Env, "CLEANUP_DIR="+s.dir)
	}
	_ = os.Remove(filepath.Join(s.dir, "vault.pid"))
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return err
	}
	r.Close()
	s.cmd, s.lifePipe = cmd, w
	return nil
}

// vaultPID is the Vault process (not the wrapper).
func (s *vaultServer) vaultPID() (int, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(s.dir, "vault.pid"))
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return pid, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no vault pid file")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill SIGKILLs the Vault process (as a crash would) and waits for it.
func (s *vaultServer) Kill(t testing.TB) {
	t.Helper()
	pid, err := s.vaultPID()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill vault: %v", err)
	}
	s.mu.Lock()
	cmd, pipe := s.cmd, s.lifePipe
	s.cmd, s.lifePipe = nil, nil
	s.mu.Unlock()
	pipe.Close()
	_ = cmd.Wait()
}

// Restart starts the server again with the same storage and port.
func (s *vaultServer) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	if err := s.waitReady(30*time.Second, false); err != nil {
		t.Fatal(err)
	}
}

// Stop terminates the server (idempotent).
func (s *vaultServer) Stop() {
	s.mu.Lock()
	cmd, pipe := s.cmd, s.lifePipe
	s.cmd, s.lifePipe = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	pipe.Close()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		if pid, err := s.vaultPID(); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		<-done
	}
	if s.dev {
		_ = os.RemoveAll(s.dir)
	}
}

// Logs returns the server's output (for failure messages).
func (s *vaultServer) Logs() string {
	b, _ := os.ReadFile(s.logPath)
	return vaultTail(string(b), 4000)
}

// waitReady polls sys/health until the server answers (and, if unsealed is
// set, is initialised and unsealed).
func (s *vaultServer) waitReady(d time.Duration, unsealed bool) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // readiness probe only
	}}
	deadline := time.Now().Add(d)
	for {
		resp, err := hc.Get(s.Addr + "/v1/sys/health")
		if err == nil {
			resp.Body.Close()
			// 200 active; 501 not initialised; 503 sealed.
			if !unsealed || resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vault at %s not ready after %s (last: %v)\n%s", s.Addr, d, err, s.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// client returns a bare api client for the server with token (may be "").
func (s *vaultServer) client(token string) (*api.Client, error) {
	cfg := api.DefaultConfig()
	cfg.Address = s.Addr
	cfg.MaxRetries = 0
	if strings.HasPrefix(s.Addr, "https:") {
		if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: s.tlsFile("vault-ca.pem")}); err != nil {
			return nil, err
		}
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetToken(token)
	return c, nil
}

// tlsFile names a file -dev-tls generated (vault-ca.pem, vault-cert.pem,
// vault-key.pem).
func (s *vaultServer) tlsFile(name string) string { return filepath.Join(s.dir, name) }

// rootClient is client(s.Token) failing t on error.
func (s *vaultServer) rootClient(t testing.TB) *api.Client {
	t.Helper()
	c, err := s.client(s.Token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ctx returns a context bounded for one test.
func vaultTestCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
