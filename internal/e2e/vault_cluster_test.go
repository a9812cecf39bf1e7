package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// vaultCluster is an HA Vault cluster with integrated Raft storage on
// loopback: every node has its own API port, cluster port, data directory
// and a retry_join stanza naming the other nodes. Node 0 is initialised
// (one key share); the others join it when they are unsealed with that key.
type vaultCluster struct {
	Nodes  []*vaultServer
	Token  string // a non-root token with the envkms policy
	root   string
	unseal string
}

// vaultHAPolicy is what the vault backend needs for keys and administration.
const vaultHAPolicy = `
path "transit/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "secret/*"  { capabilities = ["create", "read", "update", "delete", "list"] }
`

// newVaultCluster starts n Raft nodes, initialises and unseals them, waits
// until autopilot has made every node a voter, enables transit at transit/
// and KV v2 at secret/, and creates a token. Stopped by t.Cleanup.
func newVaultCluster(t *testing.T, n int) *vaultCluster {
	t.Helper()
	bin := vaultBinary(t)
	apiPorts, clusterPorts := make([]int, n), make([]int, n)
	for i := range n {
		apiPorts[i], clusterPorts[i] = vaultFreePort(t), vaultFreePort(t)
	}
	c := &vaultCluster{}
	for i := range n {
		dir := t.TempDir()
		var joins strings.Builder
		for j := range n {
			if j != i {
				fmt.Fprintf(&joins, "  retry_join { leader_api_addr = \"http://127.0.0.1:%d\" }\n", apiPorts[j])
			}
		}
		// performance_multiplier 1 is HashiCorp's production recommendation
		// (the default, 5, is for slow development machines): 1 s heartbeat
		// and election timeouts. Autopilot (which promotes joined nodes to
		// voters) runs more often than its 10 s default.
		cfg := fmt.Sprintf(`storage "raft" {
  path                   = %q
  node_id                = "node%d"
  performance_multiplier = 1
  autopilot_reconcile_interval = "500ms"
  autopilot_update_interval    = "250ms"
%s}
listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = "127.0.0.1:%d"
  tls_disable     = 1
}
api_addr      = "http://127.0.0.1:%d"
cluster_addr  = "https://127.0.0.1:%d"
disable_mlock = true
ui            = false
`, filepath.Join(dir, "raft"), i, joins.String(), apiPorts[i], clusterPorts[i], apiPorts[i], clusterPorts[i])
		if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o700); err != nil {
			t.Fatal(err)
		}
		cfgPath := filepath.Join(dir, "vault.hcl")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &vaultServer{t: t, bin: bin, dir: dir, port: apiPorts[i],
			Addr: fmt.Sprintf("http://127.0.0.1:%d", apiPorts[i]),
			args: []string{"server", "-config=" + cfgPath}}
		if err := s.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		c.Nodes = append(c.Nodes, s)
	}
	for _, s := range c.Nodes {
		if err := s.waitReady(30*time.Second, false); err != nil {
			t.Fatal(err)
		}
	}

	// Initialise and unseal the first node; it becomes the active node.
	first, err := c.Nodes[0].client("")
	if err != nil {
		t.Fatal(err)
	}
	ir, err := first.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatalf("vault operator init: %v\n%s", err, c.Nodes[0].Logs())
	}
	c.root, c.unseal = ir.RootToken, ir.Keys[0]
	for _, s := range c.Nodes {
		s.Token, s.Unseal = c.root, c.unseal
	}
	c.unsealNode(t, c.Nodes[0])
	c.waitActive(t, c.Nodes[0], 30*time.Second)
	first.SetToken(c.root)
	// Promote joined nodes to voters after 1 s of stability instead of 10 s.
	// (Written raw: the api client's AutopilotConfig always sends an
	// Enterprise-only field.)
	if _, err := first.Logical().Write("sys/storage/raft/autopilot/configuration", map[string]any{
		"server_stabilization_time": "1s",
	}); err != nil {
		t.Fatalf("autopilot configuration: %v", err)
	}

	// The others join through retry_join once they have the unseal key.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range c.Nodes[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.unsealErr(s, 60*time.Second) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	c.waitVoters(t, first, n, 60*time.Second)

	if err := first.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatalf("enable transit: %v", err)
	}
	if err := first.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatalf("enable kv v2: %v", err)
	}
	vaultWaitKVReady(t, first)
	if err := first.Sys().PutPolicy("envkms", vaultHAPolicy); err != nil {
		t.Fatalf("policy: %v", err)
	}
	tok, err := first.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"envkms"}, TTL: "1h", NoParent: true})
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	c.Token = tok.Auth.ClientToken
	return c
}

// unsealNode submits the unseal key to s and waits until s is unsealed (for a
// node that joins, the join happens first).
func (c *vaultCluster) unsealNode(t *testing.T, s *vaultServer) {
	t.Helper()
	if err := c.unsealErr(s, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

func (c *vaultCluster) unsealErr(s *vaultServer, d time.Duration) error {
	cl, err := s.client("")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(d)
	submitted := false
	for {
		if !submitted {
			if _, err := cl.Sys().Unseal(c.unseal); err == nil {
				submitted = true
			}
		}
		if h, err := vaultNodeHealth(s.Addr); err == nil && h.Initialized && !h.Sealed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not unsealed after %v (unseal submitted %v)\n%s", s.Addr, d, submitted, s.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitActive waits until s is the active node.
func (c *vaultCluster) waitActive(t *testing.T, s *vaultServer, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if h, err := vaultNodeHealth(s.Addr); err == nil && h.active() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not active after %s\n%s", s.Addr, d, s.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitVoters waits until autopilot reports n healthy voters.
func (c *vaultCluster) waitVoters(t *testing.T, cl *api.Client, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		st, err := cl.Sys().RaftAutopilotState()
		if err == nil && st != nil {
			last = st.String()
			healthy := 0
			for _, s := range st.Servers {
				if s.Status == "voter" || s.Status == "leader" {
					if s.Healthy {
						healthy++
					}
				}
			}
			if st.Healthy && len(st.Voters) == n && healthy == n {
				return
			}
		} else if err != nil {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("raft cluster not %d healthy voters after %s: %s", n, d, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Active returns the index of the active node, or -1.
func (c *vaultCluster) Active() int {
	for i, s := range c.Nodes {
		if h, err := vaultNodeHealth(s.Addr); err == nil && h.active() {
			return i
		}
	}
	return -1
}

// vaultHealth is the body of GET /v1/sys/health.
type vaultHealth struct {
	Initialized bool `json:"initialized"`
	Sealed      bool `json:"sealed"`
	Standby     bool `json:"standby"`
	status      int
}

func (h vaultHealth) active() bool {
	return h.status == http.StatusOK && h.Initialized && !h.Sealed && !h.Standby
}

var vaultProbeClient = &http.Client{Timeout: time.Second}

// vaultNodeHealth asks one node (not through any proxy) for its health.
func vaultNodeHealth(addr string) (vaultHealth, error) {
	resp, err := vaultProbeClient.Get(addr + "/v1/sys/health")
	if err != nil {
		return vaultHealth{}, err
	}
	defer resp.Body.Close()
	var h vaultHealth
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h); err != nil {
		return vaultHealth{}, err
	}
	h.status = resp.StatusCode
	return h, nil
}

// vaultLB is the load balancer users put in front of a Vault cluster, in
// miniature: an HTTP reverse proxy over all the nodes that sends each
// request to the next node (round-robin) among those passing its health
// check, and re-dispatches a request to the next node when the connection
// to a node cannot be made (the request never left, so this is safe for any
// method, like HAProxy's "option redispatch"). When no node passes, every
// node is tried in turn.
//
// The health check is GET /v1/sys/health with Vault's default answers:
// 200 only from the active node (standbys 429, sealed 503), as HashiCorp
// recommends for load balancers in front of Vault Community Edition. With
// ?standbyok=true standbys would pass too and forward to the active node,
// but a node that has just unsealed (a restarted node rejoining) passes
// before it knows the active node and answers 500 "local node not active
// but active cluster node not found" for a moment: reads and transit calls
// survive that by retrying, CreateKey and RotateKey (never retried) fail.
type vaultLB struct {
	srv      *httptest.Server
	backends []string // host:port
	down     []atomic.Bool
	next     atomic.Uint64
	tr       *http.Transport
	stop     chan struct{}
	wg       sync.WaitGroup

	redispatched atomic.Int64
	proxyErrors  atomic.Int64
}

func newVaultLB(t *testing.T, nodes []*vaultServer) *vaultLB {
	t.Helper()
	lb := &vaultLB{down: make([]atomic.Bool, len(nodes)), stop: make(chan struct{}),
		tr: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		}}
	for _, s := range nodes {
		lb.backends = append(lb.backends, strings.TrimPrefix(s.Addr, "http://"))
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.Out.URL.Scheme = "http"; r.SetXForwarded() },
		Transport: lb,
		ErrorLog:  log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			lb.proxyErrors.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string][]string{"errors": {"load balancer: " + err.Error()}})
		},
	}
	lb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Buffer the (small) body so a re-dispatch can send it again.
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		rp.ServeHTTP(w, r)
	}))
	lb.wg.Add(1)
	go lb.healthLoop()
	t.Cleanup(lb.Close)
	return lb
}

// URL is the address clients use.
func (lb *vaultLB) URL() string { return lb.srv.URL }

func (lb *vaultLB) Close() {
	select {
	case <-lb.stop:
		return
	default:
	}
	close(lb.stop)
	lb.wg.Wait()
	lb.srv.Close()
	lb.tr.CloseIdleConnections()
}

// healthLoop checks every node every 250 ms.
func (lb *vaultLB) healthLoop() {
	defer lb.wg.Done()
	hc := &http.Client{Timeout: 500 * time.Millisecond}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		for i, b := range lb.backends {
			resp, err := hc.Get("http://" + b + "/v1/sys/health")
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				resp.Body.Close()
			}
			lb.down[i].Store(!ok)
		}
		select {
		case <-lb.stop:
			return
		case <-tick.C:
		}
	}
}

// RoundTrip sends req to the next healthy node, and on to the one after it
// while connections cannot be made.
func (lb *vaultLB) RoundTrip(req *http.Request) (*http.Response, error) {
	n := len(lb.backends)
	start := int(lb.next.Add(1) % uint64(n))
	order := make([]int, 0, n)
	for i := range n { // healthy nodes first, then the rest as a last resort
		if k := (start + i) % n; !lb.down[k].Load() {
			order = append(order, k)
		}
	}
	for i := range n {
		if k := (start + i) % n; lb.down[k].Load() {
			order = append(order, k)
		}
	}
	var lastErr error
	for i, k := range order {
		out := req.Clone(req.Context())
		out.URL.Host, out.Host = lb.backends[k], lb.backends[k]
		if req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			out.Body = body
		}
		resp, err := lb.tr.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" || req.Context().Err() != nil {
			return nil, err
		}
		lb.down[k].Store(true)
		if i+1 < len(order) {
			lb.redispatched.Add(1)
		}
	}
	return nil, lastErr
}
