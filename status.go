package kms

// State is the Manager's lifecycle state.
type State string

// Manager states. NotConfigured → Configured (Configure) → Running (Start) ⇄
// Configured (Stop); Error (with Status.Error giving the reason) when Start
// failed. A failed hot swap (Reconfigure while Running) leaves the Manager
// Running on its previous backend and returns the error instead.
const (
	StateNotConfigured State = "NotConfigured"
	StateConfigured    State = "Configured"
	StateRunning       State = "Running"
	StateError         State = "Error"
)

// Status is a snapshot of the Manager for operators. Its JSON form is the
// admin API's status response. It never contains secrets.
type Status struct {
	State         State          `json:"status"`
	BackendType   BackendType    `json:"backend_type,omitempty"`
	Healthy       bool           `json:"healthy"`
	Error         string         `json:"error,omitempty"`   // reason, in state Error or when unhealthy
	Breaker       BreakerState   `json:"breaker,omitempty"` // while Running: the circuit breaker's state
	ConfigSummary *ConfigSummary `json:"config_summary,omitempty"`
}

// ConfigSummary is the redacted view of the active Config.
type ConfigSummary struct {
	BackendType    BackendType    `json:"backend_type"`
	DefaultKeyID   string         `json:"default_key_id,omitempty"`
	TimeoutSeconds int            `json:"timeout_seconds"`
	RetryAttempts  int            `json:"retry_attempts"`
	EnableCache    bool           `json:"enable_cache"`
	CacheSummary   CacheSummary   `json:"cache_summary"`
	BackendSummary map[string]any `json:"backend_summary"` // e.g. key_dir, address, auth "token"/"approle" — never values of secrets
}

// CacheSummary describes the data-key cache configuration.
type CacheSummary struct {
	MaxKeys       int  `json:"max_keys"`
	TTLSeconds    int  `json:"ttl_seconds"`
	EnableMetrics bool `json:"enable_metrics"`
}

// Stats is a snapshot of the Manager's counters.
type Stats struct {
	Operations    map[string]uint64 `json:"operations"` // calls per operation name, e.g. "GenerateDataKey"
	Errors        map[string]uint64 `json:"errors"`     // failed calls per operation name
	CacheHits     uint64            `json:"cache_hits"`
	CacheMisses   uint64            `json:"cache_misses"`
	CacheHitRatio float64           `json:"cache_hit_ratio"` // hits / (hits + misses), 0 when none
	CacheSize     int               `json:"cache_size"`
}
