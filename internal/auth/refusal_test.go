package auth

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/scopecast/scopecast/scope"
)

// rejectReason is the label a transport would count err under: the
// RejectReason of a RefusalError in the chain, else "".
func rejectReason(err error) string {
	var rr interface{ RejectReason() string }
	if errors.As(err, &rr) {
		return rr.RejectReason()
	}
	return ""
}

// Refusals stay scope.RejectErrors for the transports (the client sees the
// reason) and tell who refused: RejectAuth for the rules, RejectHook for a
// hook's refusal or timeout; the application's own refusal is neither.
// Stats split them by action and by who refused, and hook calls by hook.
func TestRefusalErrors(t *testing.T) {
	hs := newHookServer(t)
	a := New(Policy{
		Hooks: Hooks{OnConnect: hs.URL + "/deny-text", OnPlay: hs.URL + "/slow", Timeout: 100 * time.Millisecond},
		Apps: map[string]App{"live": {
			Publish: Rule{Keys: []string{"secret"}},
			Hooks:   Hooks{OnConnect: hs.URL + "/allow", OnPublish: hs.URL + "/deny-json"},
		}},
	}, Options{})
	defer a.Close(context.Background())
	g, inner := setup(t, a)
	inner.refuse = "the application says no"

	c := &fakeConn{id: "c1", remote: "127.0.0.1:1", proto: "rtmp"}
	_, errConnect := g.Connect(c, "open", nil) // the global on_connect refuses
	s, err := g.Connect(c, "live", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, errKey := s.Publish(c, "cam1?key=wrong", "live")
	_, errHook := s.Publish(c, "cam1?key=secret", "live")
	errPlay := s.AuthorizePlay(c, "cam1") // on_play times out

	for _, tc := range []struct {
		name       string
		err        error
		reason     string
		rejectedBy string
		action     string
		hook       string
	}{
		{"connect by hook", errConnect, "no such user", RejectHook, "connect", "on_connect"},
		{"publish by rule", errKey, ReasonWrongKey, RejectAuth, "publish", ""},
		{"publish by hook", errHook, "banned: too many streams", RejectHook, "publish", "on_publish"},
		{"play by hook timeout", errPlay, ReasonTimeout, RejectHook, "play", "on_play"},
	} {
		var rej *scope.RejectError
		if !errors.As(tc.err, &rej) || rej.Reason != tc.reason {
			t.Errorf("%s: %v is not a RejectError with reason %q", tc.name, tc.err, tc.reason)
		}
		if got := rejectReason(tc.err); got != tc.rejectedBy {
			t.Errorf("%s: RejectReason %q, want %q", tc.name, got, tc.rejectedBy)
		}
		var re *RefusalError
		if !errors.As(tc.err, &re) || re.Action != tc.action || re.Hook != tc.hook || re.Error() != rej.Error() {
			t.Errorf("%s: %#v", tc.name, re)
		}
	}

	// The application's own refusal is no RefusalError.
	a.SetPolicy(Policy{})
	_, errApp := s.Publish(c, "cam2", "live")
	if reasonOf(errApp) != "the application says no" || rejectReason(errApp) != "" {
		t.Errorf("application refusal %v: reason %q", errApp, rejectReason(errApp))
	}

	st := a.Stats()
	wantRefusals := []RefusalCount{
		{"connect", ByRule, 0}, {"connect", ByHook, 1},
		{"publish", ByRule, 1}, {"publish", ByHook, 1},
		{"play", ByRule, 0}, {"play", ByHook, 1},
	}
	if !reflect.DeepEqual(st.Refusals, wantRefusals) || st.Refused != 4 {
		t.Errorf("refusals %+v (total %d)", st.Refusals, st.Refused)
	}
	wantHooks := []HookCount{
		{"on_connect", 2, 0}, {"on_publish", 1, 0}, {"on_play", 1, 1}, {"on_unpublish", 0, 0}, {"on_record_done", 0, 0},
	}
	if !reflect.DeepEqual(st.Hooks, wantHooks) || st.HookCalls != 4 || st.HookErrors != 1 {
		t.Errorf("hooks %+v (calls %d, errors %d)", st.Hooks, st.HookCalls, st.HookErrors)
	}
}
