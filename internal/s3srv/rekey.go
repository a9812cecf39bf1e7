package s3srv

// A bulk rekey job, started by an admin over the admin API: it walks every
// object, moves the KMS-wrapped keys that are not under their master key's
// newest version to it (sse.RekeyBatch, batched at the backend), and takes
// an inventory of which key versions objects still depend on. Progress is
// checkpointed in DataDir after every page, so a server killed mid-job
// resumes where it stopped when it next starts.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/envkms/kms"
	"github.com/envkms/kms/admin"
	"github.com/envkms/kms/sse"
)

// Files in DataDir.
const (
	rekeyCheckpointFile = "kms-rekey.json"
	inventoryFile       = "kms-inventory.json"
)

// rekeyPageSize is the number of objects rekeyed (and checkpointed) at once.
var rekeyPageSize = 100

// maxInventorySample bounds the object names kept per key version.
const maxInventorySample = 100

// rekeyState is the job's checkpoint and status.
type rekeyState struct {
	State    string     `json:"state"` // running, completed, failed
	KeyID    string     `json:"key_id,omitempty"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Error    string     `json:"error,omitempty"`
	// Where the walk stands: the bucket being walked and the last key done.
	Bucket string `json:"bucket,omitempty"`
	After  string `json:"after,omitempty"`
	// Progress.
	Scanned int `json:"scanned"`
	Rekeyed int `json:"rekeyed"`
	Failed  int `json:"failed"`
	Resumes int `json:"resumes"`
	// Inventory so far: key id -> version -> objects.
	Inventory map[string]map[string]*inventoryEntry `json:"inventory"`
	// KeyVersions: every key's newest version when the job started. An
	// object written since then is under that version or a newer one, so
	// the inventory proves nothing about versions from there on (see
	// inventoryVersionReferences). Absent in checkpoints of older servers.
	KeyVersions map[string]int `json:"key_versions,omitempty"`
}

type inventoryEntry struct {
	Count   int      `json:"count"`
	Objects []string `json:"objects,omitempty"` // bucket/key, at most maxInventorySample
}

type rekeyer struct {
	s       *Server
	mu      sync.Mutex
	st      *rekeyState // nil: never ran
	running bool
	cancel  context.CancelFunc
	done    chan struct{}
	// afterPage, if set (tests), runs after each checkpoint; an error stops
	// the job as a crash would (the checkpoint stays "running").
	afterPage func(st rekeyState) error
}

func (s *Server) checkpointPath() string { return filepath.Join(s.cfg.DataDir, rekeyCheckpointFile) }
func (s *Server) inventoryPath() string  { return filepath.Join(s.cfg.DataDir, inventoryFile) }

// initRekey loads the checkpoint and resumes a job a previous run left
// running.
func (s *Server) initRekey() error {
	s.rk = &rekeyer{s: s}
	var st rekeyState
	err := readJSON(s.checkpointPath(), &st)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: rekey checkpoint: %v", ErrDataDir, err)
	}
	s.rk.st = &st
	if st.State == "running" {
		st.Resumes++
		s.log.Info("s3server: resuming the rekey job", "bucket", st.Bucket, "scanned", st.Scanned)
		s.rk.start(&st)
	}
	return nil
}

// start runs st in the background; the caller holds no lock.
func (rk *rekeyer) start(st *rekeyState) {
	ctx, cancel := context.WithCancel(context.Background())
	c := cloneState(st)
	rk.mu.Lock()
	rk.st, rk.running, rk.cancel, rk.done = &c, true, cancel, make(chan struct{})
	done := rk.done
	rk.mu.Unlock()
	go func() {
		defer close(done)
		err := rk.run(ctx, st)
		rk.mu.Lock()
		defer rk.mu.Unlock()
		rk.running = false
		if err != nil {
			rk.s.log.Warn("s3server: rekey job stopped", "error", err)
		}
	}()
}

// stop cancels a running job and waits for it (Close).
func (rk *rekeyer) stop() {
	rk.mu.Lock()
	cancel, done := rk.cancel, rk.done
	rk.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (rk *rekeyer) status() rekeyState {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if rk.st == nil {
		return rekeyState{State: "none"}
	}
	return cloneState(rk.st)
}

func cloneState(st *rekeyState) rekeyState {
	c := *st
	if st.KeyVersions != nil {
		c.KeyVersions = make(map[string]int, len(st.KeyVersions))
		for id, v := range st.KeyVersions {
			c.KeyVersions[id] = v
		}
	}
	c.Inventory = map[string]map[string]*inventoryEntry{}
	for id, vs := range st.Inventory {
		c.Inventory[id] = map[string]*inventoryEntry{}
		for v, e := range vs {
			ce := *e
			ce.Objects = append([]string(nil), e.Objects...)
			c.Inventory[id][v] = &ce
		}
	}
	return c
}

// run walks the buckets from st's checkpoint.
func (rk *rekeyer) run(ctx context.Context, st *rekeyState) error {
	s := rk.s
	latest := map[string]int{}
	newest := func(keyID string) int {
		if v, ok := latest[keyID]; ok {
			return v
		}
		md, err := s.m.DescribeKey(ctx, keyID)
		v := 0
		if err == nil {
			v = md.Version
		}
		latest[keyID] = v
		return v
	}
	buckets, err := s.store.listBuckets()
	if err != nil {
		return rk.finish(st, err)
	}
	for _, b := range buckets {
		if st.Bucket != "" && b.Name < st.Bucket {
			continue // done before the checkpoint
		}
		if b.Name != st.Bucket {
			st.Bucket, st.After = b.Name, ""
		}
		for {
			if err := ctx.Err(); err != nil {
				return err // stopped: the checkpoint stays "running"
			}
			page, err := s.store.listObjects(b.Name, listQuery{after: st.After, maxKeys: rekeyPageSize})
			if errors.Is(err, errStoreNoBucket) {
				break
			}
			if err != nil {
				return rk.finish(st, err)
			}
			if err := rk.page(ctx, st, b.Name, page, newest); err != nil {
				return err
			}
			if len(page.entries) > 0 {
				st.After = page.entries[len(page.entries)-1].value
			}
			if err := rk.checkpoint(st); err != nil {
				return rk.finish(st, err)
			}
			if rk.afterPage != nil {
				if err := rk.afterPage(cloneState(st)); err != nil {
					return err
				}
			}
			if !page.truncated {
				break
			}
		}
	}
	return rk.finish(st, nil)
}

// page rekeys and inventories one page of objects.
func (rk *rekeyer) page(ctx context.Context, st *rekeyState, bucket string, page listPage, newest func(string) int) error {
	s := rk.s
	var refs []sse.ObjectRef
	var oms []objectMeta
	for _, e := range page.entries {
		if e.isPrefix || len(e.meta.SSE) == 0 {
			continue
		}
		st.Scanned++
		d, err := s.enc.KeyDependency(e.meta.SSE)
		if err != nil {
			st.Failed++
			continue
		}
		if d.KMSKeyID == "" || (st.KeyID != "" && d.KMSKeyID != st.KeyID) || (d.KeyVersion != 0 && d.KeyVersion >= newest(d.KMSKeyID)) {
			rk.record(st, d, bucket, e.meta.Key)
			continue
		}
		refs = append(refs, sse.ObjectRef{Bucket: bucket, Object: e.meta.Key, Meta: e.meta.SSE})
		oms = append(oms, e.meta)
	}
	if len(refs) == 0 {
		return nil
	}
	res, err := s.enc.RekeyBatch(ctx, refs)
	if err != nil {
		return err // the KMS is unreachable: stop, resume later
	}
	for i, r := range res {
		dep := r.Before
		if r.Err == nil && r.Meta != nil {
			err := s.store.updateObjectMeta(bucket, oms[i].Key, oms[i].DataFile, func(m *objectMeta) { m.SSE = r.Meta })
			switch {
			case err == nil:
				st.Rekeyed++
				dep = r.After
			case errors.Is(err, errStoreNoObject):
				continue // deleted meanwhile
			case errors.Is(err, errStoreConflict):
				// Overwritten meanwhile: the new version was sealed now.
				if om, err := s.store.readObjectMeta(bucket, oms[i].Key); err == nil {
					if d, err := s.enc.KeyDependency(om.SSE); err == nil {
						dep = d
					}
				}
			default:
				st.Failed++
			}
		} else if r.Err != nil {
			st.Failed++
		}
		rk.record(st, dep, bucket, oms[i].Key)
	}
	return nil
}

func (rk *rekeyer) record(st *rekeyState, d sse.KeyDependency, bucket, key string) {
	if d.KMSKeyID == "" {
		return
	}
	if st.Inventory == nil {
		st.Inventory = map[string]map[string]*inventoryEntry{}
	}
	vs := st.Inventory[d.KMSKeyID]
	if vs == nil {
		vs = map[string]*inventoryEntry{}
		st.Inventory[d.KMSKeyID] = vs
	}
	v := strconv.Itoa(d.KeyVersion)
	e := vs[v]
	if e == nil {
		e = &inventoryEntry{}
		vs[v] = e
	}
	e.Count++
	if len(e.Objects) < maxInventorySample {
		e.Objects = append(e.Objects, bucket+"/"+key)
	}
}

func (rk *rekeyer) checkpoint(st *rekeyState) error {
	rk.mu.Lock()
	c := cloneState(st)
	rk.st = &c
	rk.mu.Unlock()
	return rk.s.store.writeJSONAtomic(rk.s.checkpointPath(), c)
}

// finish records the job's end; a completed job's inventory becomes the
// last completed inventory.
func (rk *rekeyer) finish(st *rekeyState, err error) error {
	now := rk.s.now().UTC()
	st.Finished = &now
	st.State = "completed"
	if err != nil {
		st.State, st.Error = "failed", err.Error()
	}
	if err == nil {
		if werr := rk.s.store.writeJSONAtomic(rk.s.inventoryPath(), st); werr != nil {
			st.State, st.Error, err = "failed", werr.Error(), werr
		}
	}
	if cerr := rk.checkpoint(st); err == nil {
		err = cerr
	}
	return err
}

// LastInventory returns the last completed rekey job's inventory: key id ->
// key version -> number of objects that depend on it (false if no job
// completed). A key version with objects must not be destroyed.
func (s *Server) LastInventory() (map[string]map[int]int, bool) {
	var st rekeyState
	if err := readJSON(s.inventoryPath(), &st); err != nil {
		return nil, false
	}
	out := map[string]map[int]int{}
	for id, vs := range st.Inventory {
		out[id] = map[int]int{}
		for v, e := range vs {
			n, _ := strconv.Atoi(v)
			out[id][n] = e.Count
		}
	}
	return out, true
}

// inventoryReferences is the Manager's kms.KeyReferences: the keys of which
// the last completed inventory found objects under some version, so that
// ScheduleKeyDeletion refuses them (ErrKeyInUse, 409) and they never reach
// Purge while objects may need them. Without a completed inventory nothing
// is known, and nothing extra is refused.
func (s *Server) inventoryReferences(context.Context) ([]string, error) {
	inv, ok := s.LastInventory()
	if !ok {
		return nil, nil
	}
	var ids []string
	for id, vs := range inv {
		for _, n := range vs {
			if n > 0 {
				ids = append(ids, id)
				break
			}
		}
	}
	return ids, nil
}

// keyVersions returns every key's newest version (unreadable keys are left
// out: their versions are then never destroyable on this inventory).
func (s *Server) keyVersions(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	req := kms.ListKeysRequest{Limit: 1000}
	for {
		res, err := s.m.ListKeys(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, k := range res.Keys {
			out[k.KeyID] = k.Version
		}
		if !res.Truncated || res.NextMarker == "" {
			return out, nil
		}
		req.Marker = res.NextMarker
	}
}

// errNoInventory: DestroyKeyVersions cannot be proven safe.
var errNoInventory = errors.New("s3server: no completed rekey job inventory records this key's versions; run a rekey job (POST kms/rekey) first")

// inventoryVersionReferences is the Manager's kms.KeyVersionReferences:
// the oldest version of keyID that objects may still need, by the last
// completed inventory. That is the oldest version it counted objects
// under, or at most the key's newest version when the job started (an
// object written since may be under it, uncounted); version 0 (an object
// whose key version cannot be told) means every version. Without a
// completed inventory that recorded the key's version at its start it
// fails, so DestroyKeyVersions fails closed.
func (s *Server) inventoryVersionReferences(_ context.Context, keyID string) (int, error) {
	var st rekeyState
	if err := readJSON(s.inventoryPath(), &st); err != nil {
		return 0, errNoInventory
	}
	oldest, ok := st.KeyVersions[keyID]
	if !ok || oldest < 1 {
		return 0, errNoInventory
	}
	for v, e := range st.Inventory[keyID] {
		n, err := strconv.Atoi(v)
		if err != nil || e.Count == 0 {
			continue
		}
		if n < 1 {
			return 1, nil
		}
		oldest = min(oldest, n)
	}
	return oldest, nil
}

// Admin endpoints of the rekey job, below AdminPrefix. They are the
// server's, not package admin's: only the admin credential (Config.AccessKey,
// or anonymous without credentials) may call them.
const (
	rekeyPath  = "kms/rekey"        // POST: start; GET: status
	reportPath = "kms/rekey/report" // GET ?key_id=&version=: objects still under that version (last completed inventory)
)

// serveRekey answers the rekey endpoints; false for other paths.
func (s *Server) serveRekey(w http.ResponseWriter, r *http.Request, p admin.Principal, authErr error) bool {
	sub := strings.TrimPrefix(r.URL.Path, AdminPrefix)
	if sub != rekeyPath && sub != reportPath {
		return false
	}
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, msg string) { reply(status, map[string]string{"error": msg}) }
	switch {
	case authErr != nil:
		fail(http.StatusUnauthorized, "unauthenticated")
		return true
	case !p.Admin:
		s.log.Warn("s3server: admin call denied", "principal", p.AccessKey, "path", sub, "outcome", "denied")
		fail(http.StatusForbidden, "only the admin credential may run rekey jobs")
		return true
	}
	switch {
	case sub == rekeyPath && r.Method == http.MethodGet:
		reply(http.StatusOK, s.rk.status())
	case sub == rekeyPath && r.Method == http.MethodPost:
		var req struct {
			KeyID string `json:"key_id"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			fail(http.StatusBadRequest, "malformed request body")
			return true
		}
		s.rk.mu.Lock()
		running := s.rk.running
		s.rk.mu.Unlock()
		if running {
			fail(http.StatusConflict, "a rekey job is already running")
			return true
		}
		versions, err := s.keyVersions(r.Context())
		if err != nil {
			s.log.Warn("s3server: rekey job not started: listing the keys failed", "error", err)
			fail(http.StatusServiceUnavailable, "could not list the keys")
			return true
		}
		st := &rekeyState{State: "running", KeyID: req.KeyID, Started: s.now().UTC(), KeyVersions: versions}
		if err := s.rk.checkpoint(st); err != nil {
			fail(http.StatusInternalServerError, "could not write the checkpoint")
			return true
		}
		s.rk.start(st)
		s.log.Info("s3server: rekey job started", "principal", p.AccessKey, "key_id", req.KeyID)
		reply(http.StatusAccepted, s.rk.status())
	case sub == reportPath && r.Method == http.MethodGet:
		q := r.URL.Query()
		keyID := q.Get("key_id")
		v, err := strconv.Atoi(q.Get("version"))
		if keyID == "" || err != nil || v < 0 {
			fail(http.StatusBadRequest, "key_id and a version number are required")
			return true
		}
		var st rekeyState
		if err := readJSON(s.inventoryPath(), &st); err != nil {
			fail(http.StatusNotFound, "no rekey job has completed yet")
			return true
		}
		e := st.Inventory[keyID][strconv.Itoa(v)]
		if e == nil {
			e = &inventoryEntry{}
		}
		reply(http.StatusOK, map[string]any{"key_id": keyID, "version": v, "count": e.Count,
			"objects": e.Objects, "inventory_finished": st.Finished})
	default:
		w.Header().Set("Allow", "GET, POST")
		fail(http.StatusMethodNotAllowed, "method not allowed")
	}
	return true
}
