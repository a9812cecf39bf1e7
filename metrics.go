package kms

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Instrument names of the Manager's OpenTelemetry metrics (meter
// "github.com/envkms/kms"). Attributes: "operation" (e.g. GenerateDataKey)
// and "backend_type" (empty while not Running).
const (
	MetricOperations     = "envkms.kms.operations"       // counter: calls
	MetricErrors         = "envkms.kms.errors"           // counter: failed calls
	MetricBackendLatency = "envkms.kms.backend.duration" // histogram, seconds: one backend attempt
	MetricCacheHits      = "envkms.kms.cache.hits"       // counter: Decrypt served from the data-key cache
	MetricCacheMisses    = "envkms.kms.cache.misses"     // counter: Decrypt that asked the backend
	MetricCacheEvictions = "envkms.kms.cache.evictions"  // counter: keys dropped because the cache was full
	MetricCacheSize      = "envkms.kms.cache.size"       // gauge: keys cached now
	MetricBreakerState   = "envkms.kms.breaker.state"    // gauge: 0 closed, 1 half-open, 2 open
)

// WithMeterProvider makes the Manager record OpenTelemetry metrics (see the
// Metric* names) through mp. The default is a no-op provider, and the
// Manager's Stats are kept either way. Attributes never carry key ids,
// contexts or any secret: only the operation and the backend type.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(m *Manager) {
		if mp != nil {
			m.meterProvider = mp
		}
	}
}

// instruments are the Manager's synchronous instruments; the observable
// ones read counters and the current runtime in a callback.
type instruments struct {
	ops, errs metric.Int64Counter
	latency   metric.Float64Histogram
}

// initMetrics creates the instruments on m.meterProvider (a no-op one by
// default). Instrument errors are logged once and leave no-op instruments.
func (m *Manager) initMetrics() {
	mp := m.meterProvider
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	meter := mp.Meter("github.com/envkms/kms")
	nm := noop.NewMeterProvider().Meter("")
	var err error
	if m.inst.ops, err = meter.Int64Counter(MetricOperations, metric.WithDescription("KMS Manager calls"), metric.WithUnit("{call}")); err != nil {
		m.inst.ops, _ = nm.Int64Counter(MetricOperations)
	}
	if m.inst.errs, err = meter.Int64Counter(MetricErrors, metric.WithDescription("failed KMS Manager calls"), metric.WithUnit("{call}")); err != nil {
		m.inst.errs, _ = nm.Int64Counter(MetricErrors)
	}
	if m.inst.latency, err = meter.Float64Histogram(MetricBackendLatency, metric.WithDescription("latency of one backend attempt"), metric.WithUnit("s")); err != nil {
		m.inst.latency, _ = nm.Float64Histogram(MetricBackendLatency)
	}
	hits, err1 := meter.Int64ObservableCounter(MetricCacheHits, metric.WithDescription("Decrypt calls served from the data-key cache"))
	misses, err2 := meter.Int64ObservableCounter(MetricCacheMisses, metric.WithDescription("Decrypt calls that asked the backend"))
	evictions, err3 := meter.Int64ObservableCounter(MetricCacheEvictions, metric.WithDescription("data keys dropped because the cache was full"))
	size, err4 := meter.Int64ObservableGauge(MetricCacheSize, metric.WithDescription("data keys cached now"))
	breakerState, err5 := meter.Int64ObservableGauge(MetricBreakerState, metric.WithDescription("circuit breaker: 0 closed, 1 half-open, 2 open"))
	for _, e := range []error{err1, err2, err3, err4, err5} {
		if e != nil {
			m.logger.Warn("kms: metrics instrument not created", "err", e)
			return
		}
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(hits, int64(m.stats.cacheHits.Load()))
		o.ObserveInt64(misses, int64(m.stats.cacheMisses.Load()))
		ev := m.stats.retiredEvictions.Load()
		var n int64
		state := int64(0)
		backendType := ""
		if rt := m.rt.Load(); rt != nil {
			backendType = string(rt.cfg.BackendType)
			if rt.cache != nil {
				st := rt.cache.Stats()
				ev += st.Evictions
				n = int64(st.Size)
			}
			switch rt.be.breaker.snapshot() {
			case BreakerHalfOpen:
				state = 1
			case BreakerOpen:
				state = 2
			}
		}
		o.ObserveInt64(evictions, int64(ev))
		o.ObserveInt64(size, n)
		o.ObserveInt64(breakerState, state, metric.WithAttributes(attribute.String("backend_type", backendType)))
		return nil
	}, hits, misses, evictions, size, breakerState)
	if err != nil {
		m.logger.Warn("kms: metrics callback not registered", "err", err)
	}
}

// opAttrs are the attributes of o on backend type t, built once per runtime.
func opAttrs(t BackendType) [numOps]metric.MeasurementOption {
	var a [numOps]metric.MeasurementOption
	for o := range numOps {
		a[o] = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", o.String()), attribute.String("backend_type", string(t))))
	}
	return a
}

func (m *Manager) recordCall(rt *runtime, o op, err error) {
	if m.meterProvider == nil {
		return // no-op instruments: skip the calls
	}
	attrs := &m.idleAttrs // calls made while no runtime serves
	if rt != nil {
		attrs = &rt.attrs
	}
	ctx := context.Background()
	m.inst.ops.Add(ctx, 1, attrs[o])
	if err != nil {
		m.inst.errs.Add(ctx, 1, attrs[o])
	}
}

func (m *Manager) recordLatency(rt *runtime, o op, d time.Duration) {
	m.inst.latency.Record(context.Background(), d.Seconds(), rt.attrs[o])
}
