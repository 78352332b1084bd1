package fakeintra_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
)

type rateHeaders struct {
	SecondLimit, SecondLeft, HourLimit, HourLeft, RetryAfter string
}

func rateOf(w *httptest.ResponseRecorder) rateHeaders {
	h := w.Header()
	return rateHeaders{
		h.Get("X-Secondly-RateLimit-Limit"), h.Get("X-Secondly-RateLimit-Remaining"),
		h.Get("X-Hourly-RateLimit-Limit"), h.Get("X-Hourly-RateLimit-Remaining"),
		h.Get("Retry-After"),
	}
}

func assertTooMany(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", w.Code)
	}
	if got := w.Body.String(); got != "429 Too Many Requests (Spam Rate Limit Exceeded)" {
		t.Errorf("body %q", got)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestSecondlyRateLimit(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, func(o *fakeintra.Options) { o.RateLimit = true; o.HourlyLimit = 100 })
	tok := mustToken(t, s, "jdoe") // one request of this second
	clk.Advance(time.Second)

	w := getMe(s, tok.AccessToken)
	if diff := cmp.Diff(rateHeaders{"2", "1", "100", "98", ""}, rateOf(w)); w.Code != http.StatusOK || diff != "" {
		t.Errorf("first: status %d, headers (-want +got):\n%s", w.Code, diff)
	}
	w = getMe(s, tok.AccessToken)
	if diff := cmp.Diff(rateHeaders{"2", "0", "100", "97", ""}, rateOf(w)); w.Code != http.StatusOK || diff != "" {
		t.Errorf("second: status %d, headers (-want +got):\n%s", w.Code, diff)
	}
	clk.Advance(300 * time.Millisecond)
	w = getMe(s, tok.AccessToken)
	assertTooMany(t, w)
	if diff := cmp.Diff(rateHeaders{"2", "0", "100", "97", "1"}, rateOf(w)); diff != "" {
		t.Errorf("refused: headers (-want +got):\n%s", diff)
	}

	// Another application has its own count.
	w = postToken(s, url.Values{"grant_type": {"client_credentials"}, "client_id": {otherApp.ID}, "client_secret": {otherApp.Secret}})
	if diff := cmp.Diff(rateHeaders{"2", "1", "100", "99", ""}, rateOf(w)); w.Code != http.StatusOK || diff != "" {
		t.Errorf("other application: status %d, headers (-want +got):\n%s", w.Code, diff)
	}

	// The token endpoint and token info count as the same application.
	r := httptest.NewRequest("GET", "/oauth/token/info", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	assertTooMany(t, serve(s, r))
	assertTooMany(t, postToken(s, exchangeForm("whatever")))

	clk.Advance(700 * time.Millisecond)
	w = getMe(s, tok.AccessToken)
	if diff := cmp.Diff(rateHeaders{"2", "1", "100", "96", ""}, rateOf(w)); w.Code != http.StatusOK || diff != "" {
		t.Errorf("next second: status %d, headers (-want +got):\n%s", w.Code, diff)
	}
}

func TestHourlyRateLimit(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, func(o *fakeintra.Options) { o.RateLimit = true; o.SecondlyLimit = 10; o.HourlyLimit = 3 })
	tok := mustToken(t, s, "jdoe")
	for i := range 2 {
		clk.Advance(time.Second)
		if w := getMe(s, tok.AccessToken); w.Code != http.StatusOK {
			t.Fatalf("call %d: status %d", i, w.Code)
		}
	}
	clk.Advance(time.Second)
	w := getMe(s, tok.AccessToken)
	assertTooMany(t, w)
	// start is 10:44:21; three seconds later 15 min 36 s are left of the hour.
	wantRetry := strconv.Itoa(15*60 + 36)
	if diff := cmp.Diff(rateHeaders{"10", "10", "3", "0", wantRetry}, rateOf(w)); diff != "" {
		t.Errorf("refused: headers (-want +got):\n%s", diff)
	}
	clk.Advance(15*time.Minute + 36*time.Second)
	if w := getMe(s, tok.AccessToken); w.Code != http.StatusOK {
		t.Errorf("next hour: status %d", w.Code)
	}
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	tok := mustToken(t, s, "jdoe")
	for i := range 50 {
		w := getMe(s, tok.AccessToken)
		if w.Code != http.StatusOK {
			t.Fatalf("call %d: status %d", i, w.Code)
		}
		if diff := cmp.Diff(rateHeaders{}, rateOf(w)); diff != "" {
			t.Fatalf("headers with the limit off (-want +got):\n%s", diff)
		}
	}
}

func TestRateLimitSkipsUnknownApplications(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, func(o *fakeintra.Options) { o.RateLimit = true })
	for i := range 5 {
		w := getMe(s, "unknown")
		if w.Code != http.StatusUnauthorized || w.Header().Get("X-Secondly-RateLimit-Limit") != "" {
			t.Fatalf("call %d: status %d, headers %v", i, w.Code, w.Header())
		}
	}
}
