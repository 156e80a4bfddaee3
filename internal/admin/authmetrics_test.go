package admin_test

import (
	"net/http/httptest"
	"testing"

	"github.com/scopecast/scopecast/internal/admin"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
)

type fakeAuth struct{}

func (fakeAuth) AuthStats() admin.AuthStats {
	return admin.AuthStats{
		Refusals:    []admin.AuthRefusals{{Action: "connect", By: "rule", N: 3}, {Action: "play", By: "hook", N: 2}},
		Hooks:       []admin.HookStats{{Hook: "on_connect", Calls: 7, Errors: 1}, {Hook: "on_unpublish", Calls: 4}},
		DoneDropped: 5,
	}
}

// Options.Auth's counters and the server's reconnect requests are exported.
func TestAuthAndReconnectMetrics(t *testing.T) {
	scopes := scope.New(scope.Options{Logger: testLogger()})
	srv := &rtmp.Server{Scopes: scopes, Logger: testLogger()}
	srv.Stats().ReconnectRequests.Add(6)
	h := admin.New(admin.Options{Server: srv, Scopes: scopes, Auth: fakeAuth{}, Logger: testLogger()})
	defer h.Close()
	adm := httptest.NewServer(h)
	defer adm.Close()
	fams := (&env{Admin: adm}).scrape(t)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"scopecast_auth_refused_total", []string{"action", "connect", "by", "rule"}, 3},
		{"scopecast_auth_refused_total", []string{"action", "play", "by", "hook"}, 2},
		{"scopecast_auth_hook_requests_total", []string{"hook", "on_connect"}, 7},
		{"scopecast_auth_hook_errors_total", []string{"hook", "on_connect"}, 1},
		{"scopecast_auth_hook_requests_total", []string{"hook", "on_unpublish"}, 4},
		{"scopecast_auth_hook_notifications_dropped_total", nil, 5},
		{"scopecast_rtmp_reconnect_requests_total", nil, 6},
	} {
		if v, ok := metric(fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
}
