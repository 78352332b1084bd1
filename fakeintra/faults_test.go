package fakeintra_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
)

// call makes one call of the endpoint that would succeed without a fault.
func call(t *testing.T, s *fakeintra.Server, e fakeintra.Endpoint) *httptest.ResponseRecorder {
	t.Helper()
	switch e {
	case fakeintra.Token:
		return postToken(s, exchangeForm(mustCode(t, s, "jdoe")))
	case fakeintra.Me:
		// The token is taken before the fault can touch the token endpoint.
		return getMe(s, mustTokenUnfaulted(t, s))
	}
	t.Fatalf("no call for %v", e)
	return nil
}

// mustTokenUnfaulted gets a token for jdoe, the token endpoint's fault
// put aside meanwhile.
func mustTokenUnfaulted(t *testing.T, s *fakeintra.Server) string {
	t.Helper()
	f, faulted := s.Faults()[fakeintra.Token]
	if faulted {
		s.SetFault(fakeintra.Token, fakeintra.Fault{})
		defer s.SetFault(fakeintra.Token, f)
	}
	return mustToken(t, s, "jdoe").AccessToken
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		endpoint fakeintra.Endpoint
		fault    fakeintra.Fault
		check    func(t *testing.T, w *httptest.ResponseRecorder)
	}{
		{"token 500 by default", fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status}, wantStatusPage(500, "500 Internal Server Error")},
		{"token 502", fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status, Status: 502}, wantStatusPage(502, "502 Bad Gateway")},
		{"token 503", fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status, Status: 503}, wantStatusPage(503, "503 Service Unavailable")},
		{"me 503", fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Status, Status: 503}, wantStatusPage(503, "503 Service Unavailable")},
		{"token 429", fakeintra.Token, fakeintra.Fault{Kind: fakeintra.RateLimited}, wantTooMany},
		{"me 429", fakeintra.Me, fakeintra.Fault{Kind: fakeintra.RateLimited}, wantTooMany},
		{"token malformed", fakeintra.Token, fakeintra.Fault{Kind: fakeintra.MalformedJSON}, wantBrokenJSON},
		{"me malformed", fakeintra.Me, fakeintra.Fault{Kind: fakeintra.MalformedJSON}, wantBrokenJSON},
		{"token truncated", fakeintra.Token, fakeintra.Fault{Kind: fakeintra.TruncatedJSON}, wantBrokenJSON},
		{"me truncated", fakeintra.Me, fakeintra.Fault{Kind: fakeintra.TruncatedJSON}, wantBrokenJSON},
		{"me without id", fakeintra.Me, fakeintra.Fault{Kind: fakeintra.MeMissingID}, wantMeWithout("id")},
		{"me without login", fakeintra.Me, fakeintra.Fault{Kind: fakeintra.MeMissingLogin}, wantMeWithout("login")},
		{"token hang", fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Hang, Delay: 30 * time.Millisecond}, wantStatus(http.StatusOK)},
		{"me hang", fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Hang, Delay: 30 * time.Millisecond}, wantStatus(http.StatusOK)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newFake(t, nil)
			s.SetFault(tt.endpoint, tt.fault)
			begin := time.Now()
			tt.check(t, call(t, s, tt.endpoint))
			if tt.fault.Kind == fakeintra.Hang && time.Since(begin) < tt.fault.Delay {
				t.Errorf("answered after %v, before the delay", time.Since(begin))
			}
			// One-shot: the next call is served as usual.
			if w := call(t, s, tt.endpoint); w.Code != http.StatusOK || !json.Valid(w.Body.Bytes()) {
				t.Errorf("next call: status %d, body %.200s", w.Code, w.Body)
			}
			// The other endpoint was never touched.
			other := map[fakeintra.Endpoint]fakeintra.Endpoint{fakeintra.Token: fakeintra.Me, fakeintra.Me: fakeintra.Token}[tt.endpoint]
			s.SetFault(tt.endpoint, tt.fault)
			if w := call(t, s, other); w.Code != http.StatusOK {
				t.Errorf("%v call with a fault on %v: status %d", other, tt.endpoint, w.Code)
			}
		})
	}
}

func wantStatus(status int) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		if w.Code != status {
			t.Errorf("status %d, want %d", w.Code, status)
		}
	}
}

func wantStatusPage(status int, title string) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		if w.Code != status || !strings.Contains(w.Body.String(), "<title>"+title+"</title>") {
			t.Errorf("status %d, body %s; want %d %s", w.Code, w.Body, status, title)
		}
	}
}

func wantTooMany(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	assertTooMany(t, w)
	if w.Header().Get("Retry-After") != "1" || w.Header().Get("X-Secondly-RateLimit-Remaining") != "0" {
		t.Errorf("headers %v", w.Header())
	}
}

func wantBrokenJSON(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusOK || json.Valid(w.Body.Bytes()) || w.Body.Len() < 10 {
		t.Errorf("status %d, body %s; want 200 and broken JSON", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

func wantMeWithout(field string) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != http.StatusOK {
			t.Fatalf("status %d, %v: %s", w.Code, err, w.Body)
		}
		if _, ok := doc[field]; ok {
			t.Errorf("%s is still there", field)
		}
		for _, k := range []string{"id", "login", "email", "displayname", "image", "campus_users"} {
			if _, ok := doc[k]; !ok && k != field {
				t.Errorf("%s went too", k)
			}
		}
	}
}

func TestFaultCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		count int
		want  []int // statuses of successive calls
	}{
		{0, []int{503, 200, 200}},
		{1, []int{503, 200, 200}},
		{2, []int{503, 503, 200}},
		{fakeintra.Sticky, []int{503, 503, 503, 503, 503}},
	}
	for _, tt := range tests {
		s, _ := newFake(t, nil)
		s.SetFault(fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Status, Status: 503, Count: tt.count})
		tok := mustToken(t, s, "jdoe").AccessToken
		var got []int
		for range tt.want {
			got = append(got, getMe(s, tok).Code)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("count %d: statuses (-want +got):\n%s", tt.count, diff)
		}
		s.ClearFaults()
		if w := getMe(s, tok); w.Code != http.StatusOK {
			t.Errorf("count %d: after ClearFaults: status %d", tt.count, w.Code)
		}
	}
}

func TestFaultRewritesOnlySuccess(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	s.SetFault(fakeintra.Me, fakeintra.Fault{Kind: fakeintra.MeMissingID})
	w := getMe(s, "unknown")
	if w.Code != http.StatusUnauthorized || w.Body.Len() != 0 {
		t.Errorf("status %d, body %q", w.Code, w.Body)
	}
	if _, ok := s.Faults()[fakeintra.Me]; ok {
		t.Error("the fault was not used up")
	}
}

func TestHangReleased(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	tok := mustToken(t, s, "jdoe").AccessToken
	s.SetFault(fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Hang}) // one minute
	done := make(chan int)
	go func() { done <- getMe(s, tok).Code }()
	time.Sleep(20 * time.Millisecond)
	select {
	case code := <-done:
		t.Fatalf("answered %d without waiting", code)
	default:
	}
	s.ClearFaults()
	select {
	case code := <-done:
		if code != http.StatusOK {
			t.Errorf("released call: status %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ClearFaults did not release the call")
	}
}

func TestHangEndsWithClient(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	code := mustCode(t, s, "jdoe")
	s.SetFault(fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Hang})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := httptest.NewRequestWithContext(ctx, "POST", "/oauth/token", strings.NewReader(exchangeForm(code).Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	begin := time.Now()
	w := serve(s, r)
	if elapsed := time.Since(begin); elapsed > 5*time.Second {
		t.Fatalf("hung %v after the client left", elapsed)
	}
	if w.Body.Len() != 0 {
		t.Errorf("answered %d %s to a client that left", w.Code, w.Body)
	}
	// The abandoned exchange did not use the code up.
	if w := postToken(s, exchangeForm(code)); w.Code != http.StatusOK {
		t.Errorf("code after the abandoned exchange: status %d", w.Code)
	}
}

func TestSetFaultPanics(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	for _, tc := range []struct {
		e fakeintra.Endpoint
		f fakeintra.Fault
	}{
		{fakeintra.Token, fakeintra.Fault{Kind: fakeintra.MeMissingID}},
		{fakeintra.Token, fakeintra.Fault{Kind: fakeintra.MeMissingLogin}},
		{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Status, Status: 200}},
		{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Hang, Delay: -time.Second}},
		{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.FaultKind(99)}},
		{fakeintra.Endpoint(0), fakeintra.Fault{Kind: fakeintra.Status}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetFault(%v, %+v) did not panic", tc.e, tc.f)
				}
			}()
			s.SetFault(tc.e, tc.f)
		}()
	}
}

func TestControlEndpoint(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	srv := httptest.NewServer(s)
	defer srv.Close()

	do := func(method, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/_fake/faults", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	steps := []struct {
		method, body string
		wantStatus   int
		wantBody     string
	}{
		{"GET", "", 200, `{"token":null,"me":null}`},
		{"POST", `{"endpoint":"token","kind":"status","status":503}`, 200, `{"token":{"kind":"status","status":503,"count":1},"me":null}`},
		{"POST", `{"endpoint":"me","kind":"hang","delay":"30s","count":-1}`, 200, `{"token":{"kind":"status","status":503,"count":1},"me":{"kind":"hang","delay":"30s","count":-1}}`},
		{"POST", `{"endpoint":"me","kind":"me_missing_login","count":3}`, 200, `{"token":{"kind":"status","status":503,"count":1},"me":{"kind":"me_missing_login","count":3}}`},
		{"POST", `{"endpoint":"token","kind":"none"}`, 200, `{"token":null,"me":{"kind":"me_missing_login","count":3}}`},
		{"POST", `{"endpoint":"token","kind":"rate_limited"}`, 200, `{"token":{"kind":"rate_limited","count":1},"me":{"kind":"me_missing_login","count":3}}`},
		{"POST", `{"endpoint":"token","kind":"hang"}`, 200, `{"token":{"kind":"hang","delay":"1m0s","count":1},"me":{"kind":"me_missing_login","count":3}}`},
		{"DELETE", "", 204, ""},
		{"GET", "", 200, `{"token":null,"me":null}`},
		{"POST", `{"endpoint":"token","kind":"me_missing_id"}`, 400, `{"error":"invalid_request","error_description":"fault me_missing_id applies to the me endpoint only"}`},
		{"POST", `{"endpoint":"users","kind":"status"}`, 400, ""},
		{"POST", `{"kind":"status"}`, 400, `{"error":"invalid_request","error_description":"endpoint is missing: want token or me"}`},
		{"POST", `{"endpoint":"me","kind":"explode"}`, 400, ""},
		{"POST", `{"endpoint":"me","kind":"hang","delay":"soon"}`, 400, ""},
		{"POST", `{"endpoint":"me","kind":"status","status":200}`, 400, ""},
		{"POST", `{"endpoint":"me","kind":"status","colour":"red"}`, 400, ""},
		{"POST", `not json`, 400, ""},
		{"GET", "", 200, `{"token":null,"me":null}`},
	}
	for i, st := range steps {
		status, body := do(st.method, st.body)
		if status != st.wantStatus {
			t.Errorf("step %d %s %s: status %d, want %d: %s", i, st.method, st.body, status, st.wantStatus, body)
		}
		if st.wantBody != "" && body != st.wantBody {
			t.Errorf("step %d %s %s: body\n got %s\nwant %s", i, st.method, st.body, body, st.wantBody)
		}
	}

	// A fault set through the control endpoint acts on the provider.
	if status, _ := do("POST", `{"endpoint":"token","kind":"status","status":502}`); status != 200 {
		t.Fatalf("set: status %d", status)
	}
	if w := postToken(s, exchangeForm(mustCode(t, s, "jdoe"))); w.Code != http.StatusBadGateway {
		t.Errorf("token call: status %d, want 502", w.Code)
	}
}
