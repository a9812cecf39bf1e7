package admin

import (
	"net/http"
	"strings"
)

// route is one endpoint: method, path pattern below the mount point (with
// {name} wildcards matching one non-empty segment), the Action it needs,
// its operation name for the audit log, and implementation. A route with
// perKey names its key in the body (the handler authorizes it once
// decoded) or in a {key_id} segment (authorized before the handler runs);
// the others are authorized on ResourceAll before the handler runs.
type route struct {
	method  string
	pattern string
	action  Action
	op      string
	perKey  bool
	fn      func(*call) error
	segs    []string
}

// routeTable returns the endpoints; each handler builds its own table, so
// there is no package-level state.
func routeTable() []route {
	const get, post, del = http.MethodGet, http.MethodPost, http.MethodDelete
	bs := &backupState{} // see backup.go
	return compileRoutes([]route{
		{method: post, pattern: "kms/configure", action: ActionConfigure, op: "Configure", fn: (*call).configure},
		{method: post, pattern: "kms/reconfigure", action: ActionConfigure, op: "Reconfigure", fn: (*call).reconfigure},
		{method: post, pattern: "kms/start", action: ActionServiceControl, op: "Start", fn: (*call).start},
		{method: post, pattern: "kms/stop", action: ActionServiceControl, op: "Stop", fn: (*call).stop},
		{method: get, pattern: "kms/status", action: ActionServiceControl, op: "Status", fn: (*call).getStatus},
		{method: get, pattern: "kms/service-status", action: ActionServiceControl, op: "Status", fn: (*call).getStatus},
		{method: get, pattern: "kms/config", action: ActionConfigure, op: "GetConfig", fn: (*call).getConfig},
		{method: post, pattern: "kms/clear-cache", action: ActionClearCache, op: "ClearCache", fn: (*call).clearCache},
		{method: post, pattern: "kms/keys", action: ActionCreateKey, op: "CreateKey", perKey: true, fn: (*call).createKey},
		{method: get, pattern: "kms/keys", action: ActionListKeys, op: "ListKeys", fn: (*call).listKeys},
		{method: del, pattern: "kms/keys/delete", action: ActionDeleteKey, op: "ScheduleKeyDeletion", perKey: true, fn: (*call).scheduleDeletion},
		{method: post, pattern: "kms/keys/cancel-deletion", action: ActionDeleteKey, op: "CancelKeyDeletion", perKey: true, fn: (*call).cancelDeletion},
		{method: post, pattern: "kms/keys/enable", action: ActionEnableKey, op: "EnableKey", perKey: true, fn: (*call).enableKey},
		{method: post, pattern: "kms/keys/disable", action: ActionDisableKey, op: "DisableKey", perKey: true, fn: (*call).disableKey},
		{method: post, pattern: "kms/keys/rotate", action: ActionRotateKey, op: "RotateKey", perKey: true, fn: (*call).rotateKey},
		{method: post, pattern: "kms/keys/destroy-versions", action: ActionDeleteKey, op: "DestroyKeyVersions", perKey: true, fn: (*call).destroyVersions},
		{method: post, pattern: "kms/keys/rotation-period", action: ActionRotateKey, op: "SetRotationPeriod", perKey: true, fn: (*call).setRotationPeriod},
		{method: post, pattern: "kms/keys/update-description", action: ActionUpdateKeyDescription, op: "UpdateKeyDescription", perKey: true, fn: (*call).updateDescription},
		{method: post, pattern: "kms/keys/tag", action: ActionTagResource, op: "TagKey", perKey: true, fn: (*call).tagKey},
		{method: post, pattern: "kms/keys/untag", action: ActionUntagResource, op: "UntagKey", perKey: true, fn: (*call).untagKey},
		{method: get, pattern: "kms/keys/{key_id}", action: ActionDescribeKey, op: "DescribeKey", perKey: true, fn: (*call).describeKey},
		// The path forms of enable, disable and rotate (empty body).
		{method: post, pattern: "kms/keys/{key_id}/enable", action: ActionEnableKey, op: "EnableKey", perKey: true, fn: (*call).enableKey},
		{method: post, pattern: "kms/keys/{key_id}/disable", action: ActionDisableKey, op: "DisableKey", perKey: true, fn: (*call).disableKey},
		{method: post, pattern: "kms/keys/{key_id}/rotate", action: ActionRotateKey, op: "RotateKey", perKey: true, fn: (*call).rotateKey},
		{method: post, pattern: "kms/generate-data-key", action: ActionGenerateDataKey, op: "GenerateDataKey", perKey: true, fn: (*call).generateDataKey},
		{method: post, pattern: "kms/decrypt", action: ActionDecrypt, op: "Decrypt", perKey: true, fn: (*call).decrypt},
		{method: post, pattern: "kms/backup", action: ActionBackup, op: "Backup", fn: bs.postBackup},
		{method: get, pattern: "kms/backup", action: ActionBackup, op: "GetBackup", fn: bs.getBackup},
		{method: post, pattern: "kms/restore/dry-run", action: ActionRestore, op: "RestoreDryRun", fn: restoreDryRun},
		{method: post, pattern: "kms/restore", action: ActionRestore, op: "Restore", fn: restore},
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
