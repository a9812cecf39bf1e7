package admin

import (
	"net/http"
	"strings"
)

// route is one endpoint: method, path pattern below the mount point (with
// {name} wildcards matching one non-empty segment), audit action name and
// implementation.
type route struct {
	method  string
	pattern string
	action  string
	fn      func(*call) error
	segs    []string
}

// routeTable returns the endpoints; each handler builds its own table, so
// there is no package-level state.
func routeTable() []route {
	return compileRoutes([]route{
		{method: http.MethodPost, pattern: "kms/configure", action: "kms:Configure", fn: (*call).configure},
		{method: http.MethodPost, pattern: "kms/reconfigure", action: "kms:Reconfigure", fn: (*call).reconfigure},
		{method: http.MethodPost, pattern: "kms/start", action: "kms:Start", fn: (*call).start},
		{method: http.MethodPost, pattern: "kms/stop", action: "kms:Stop", fn: (*call).stop},
		{method: http.MethodGet, pattern: "kms/status", action: "kms:Status", fn: (*call).getStatus},
		{method: http.MethodGet, pattern: "kms/service-status", action: "kms:Status", fn: (*call).getStatus},
		{method: http.MethodGet, pattern: "kms/config", action: "kms:GetConfig", fn: (*call).getConfig},
		{method: http.MethodPost, pattern: "kms/clear-cache", action: "kms:ClearCache", fn: (*call).clearCache},
		{method: http.MethodPost, pattern: "kms/keys", action: "kms:CreateKey", fn: (*call).createKey},
		{method: http.MethodGet, pattern: "kms/keys", action: "kms:ListKeys", fn: (*call).listKeys},
		{method: http.MethodDelete, pattern: "kms/keys/delete", action: "kms:ScheduleKeyDeletion", fn: (*call).scheduleDeletion},
		{method: http.MethodPost, pattern: "kms/keys/cancel-deletion", action: "kms:CancelKeyDeletion", fn: (*call).cancelDeletion},
		{method: http.MethodGet, pattern: "kms/keys/{key_id}", action: "kms:DescribeKey", fn: (*call).describeKey},
		{method: http.MethodPost, pattern: "kms/keys/{key_id}/enable", action: "kms:EnableKey", fn: (*call).enableKey},
		{method: http.MethodPost, pattern: "kms/keys/{key_id}/disable", action: "kms:DisableKey", fn: (*call).disableKey},
		{method: http.MethodPost, pattern: "kms/keys/{key_id}/rotate", action: "kms:RotateKey", fn: (*call).rotateKey},
		{method: http.MethodPost, pattern: "kms/generate-data-key", action: "kms:GenerateDataKey", fn: (*call).generateDataKey},
		{method: http.MethodPost, pattern: "kms/decrypt", action: "kms:Decrypt", fn: (*call).decrypt},
	})
}

func compileRoutes(rs []route) []route {
	for i := range rs {
		rs[i].segs = strings.Split(rs[i].pattern, "/")
	}
	return rs
}

func (rt *route) match(segs []string) (map[string]string, bool) {
	if len(segs) != len(rt.segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range rt.segs {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}
