package e2e

import (
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func attributeKey(k string) attribute.Key { return attribute.Key(k) }

func formatMetric(m metricdata.Metrics) string { return fmt.Sprintf("%+v", m) }
