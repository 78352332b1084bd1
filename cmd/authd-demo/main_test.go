package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/cmd/authd-demo/internal/qr"
	"authd/internal/account"
	"authd/internal/authdtest"
	"authd/internal/totp"
)

// seen is what the fake authd received from the proxy.
type seen struct {
	Method, Path, Query, Host, Forwarded, Cookie, Authorization, Body string
}

// mustUpstream starts a stand-in for authd that records each request and
// answers the callback as authd does: state checked, api_token set,
// state_token cleared.
func mustUpstream(t *testing.T) (*url.URL, <-chan seen) {
	t.Helper()
	got := make(chan seen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Get("X-Forwarded-For"), r.Header.Get("Cookie"),
			r.Header.Get("Authorization"), string(body)}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case callbackPath:
			http.SetCookie(w, &http.Cookie{Name: "state_token", Path: "/", MaxAge: -1, HttpOnly: true})
			if r.URL.Query().Get("state") != "good" {
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `{"error":"invalid_state","detail":"The state does not match."}`)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "api_token", Value: "signed", Path: "/", MaxAge: 300, HttpOnly: true})
			io.WriteString(w, `{"detail":"Intra identity received."}`)
		case "/auth/login/":
			http.SetCookie(w, &http.Cookie{Name: "refresh_token", Value: "r", Path: "/", MaxAge: 86400, HttpOnly: true, SameSite: http.SameSiteStrictMode})
			io.WriteString(w, `{"access_token":"a","token_type":"Bearer","expires_in":900}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"not_found","detail":"No such endpoint."}`)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u, got
}

func mustDemo(t *testing.T, upstream *url.URL) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newHandler(upstream, log.New(io.Discard, "", 0)))
	t.Cleanup(srv.Close)
	return srv
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func mustDo(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPage(t *testing.T) {
	up, _ := mustUpstream(t)
	demo := mustDemo(t, up)
	for _, tc := range []struct {
		path, contentType string
		contains          []string
	}{
		{"/", "text/html", []string{`id="login"`, "Log in with 42", `src="/app.js"`,
			`id="sessions"`, `id="session-list"`, `id="logout-others"`, `id="change-password-form"`, `id="intra-unlink"`, `id="calls"`,
			`id="mfa-form"`, `id="totp-setup"`, `id="totp-qr"`, `id="totp-secret"`, `id="recovery-codes"`, "Save these ten recovery codes now",
			`id="totp-disable"`, `id="recovery-new"`}},
		{"/app.js", "text/javascript", []string{`"/auth/login/"`, `"/oauth2/intra/url/"`, `"/oauth2/intra/link/"`,
			`"/auth/sessions/"`, `"/auth/password/"`, `api("DELETE", "/oauth2/intra/link/"`, `{scope: "others"}`,
			`"/auth/login/mfa/"`, `"/auth/2fa/totp/setup/"`, `"/auth/2fa/totp/confirm/"`, `"/auth/2fa/totp/disable/"`,
			`"/auth/2fa/recovery-codes/"`, `fetch("/qr.svg", {`, `method: "POST"`}},
		{"/style.css", "text/css", []string{"body"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", demo.URL+tc.path, nil)
			resp, body := mustDo(t, req)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) {
				t.Fatalf("GET %s = %d %q, want 200 %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType)
			}
			for _, s := range tc.contains {
				if !strings.Contains(body, s) {
					t.Errorf("GET %s lacks %s", tc.path, s)
				}
			}
			// Scripts and styles from the origin only; images from it and
			// from the blobs the page makes of the QR codes it fetches.
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
				!strings.Contains(csp, "img-src 'self' blob:") || strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
		})
	}
	req, _ := http.NewRequest("GET", demo.URL+"/nothing-here", nil)
	if resp, _ := mustDo(t, req); resp.StatusCode != 404 {
		t.Errorf("GET /nothing-here = %d, want 404", resp.StatusCode)
	}
}

func TestProxyPassesCallsThrough(t *testing.T) {
	up, got := mustUpstream(t)
	demo := mustDemo(t, up)
	req, _ := http.NewRequest("POST", demo.URL+"/auth/login/", strings.NewReader(`{"username":"alice","password":"pw"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Host = "demo.test"
	req.AddCookie(&http.Cookie{Name: "refresh_token", Value: "old"})
	resp, body := mustDo(t, req)
	if resp.StatusCode != 200 || !strings.Contains(body, `"access_token":"a"`) {
		t.Fatalf("login through the proxy = %d %s", resp.StatusCode, body)
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "refresh_token=r;") || !strings.Contains(sc, "HttpOnly") {
		t.Errorf("Set-Cookie = %q, want authd's refresh_token as it was", sc)
	}
	want := seen{Method: "POST", Path: "/auth/login/", Host: "demo.test", Forwarded: "127.0.0.1",
		Cookie: "refresh_token=old", Body: `{"username":"alice","password":"pw"}`}
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("authd received (-want +got):\n%s", diff)
	}
}

// TestProxyPassesAccountCalls: the calls of the page's account section
// reach authd with their method, path, Bearer token and body, DELETE
// included, and their answer comes back unchanged.
func TestProxyPassesAccountCalls(t *testing.T) {
	up, got := mustUpstream(t)
	demo := mustDemo(t, up)
	for _, tc := range []struct {
		method, path, body string
	}{
		{"GET", "/auth/sessions/", ""},
		{"DELETE", "/auth/sessions/Zm9vYmFyYmF6cXV4/", ""},
		{"POST", "/auth/logout/", `{"scope":"others"}`},
		{"POST", "/auth/password/", `{"current_password":"old one","new_password":"a new one"}`},
		{"DELETE", "/oauth2/intra/link/", ""},
		{"POST", "/auth/2fa/totp/setup/", ""},
		{"POST", "/auth/2fa/totp/confirm/", `{"code":"123456"}`},
		{"POST", "/auth/login/mfa/", `{"mfa_token":"t","code":"k7pefnhq7f"}`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, demo.URL+tc.path, strings.NewReader(tc.body))
			req.Host = "demo.test"
			req.Header.Set("Authorization", "Bearer access")
			resp, body := mustDo(t, req)
			if resp.StatusCode != 404 || !strings.Contains(body, `"error":"not_found"`) {
				t.Errorf("%s %s through the proxy = %d %s, want the upstream's 404", tc.method, tc.path, resp.StatusCode, body)
			}
			want := seen{Method: tc.method, Path: tc.path, Host: "demo.test", Forwarded: "127.0.0.1",
				Authorization: "Bearer access", Body: tc.body}
			if diff := cmp.Diff(want, <-got); diff != "" {
				t.Errorf("authd received (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCallback(t *testing.T) {
	up, got := mustUpstream(t)
	demo := mustDemo(t, up)
	for _, tc := range []struct {
		name            string
		state           string
		header          map[string]string
		status          int
		location        string
		setCookiePrefix []string
	}{
		{"navigation, success", "good", map[string]string{"Sec-Fetch-Mode": "navigate"}, 303, "/?intra=ok",
			[]string{"state_token=;", "api_token=signed;"}},
		{"navigation, error", "bad", map[string]string{"Sec-Fetch-Mode": "navigate"}, 303, "/?intra=invalid_state",
			[]string{"state_token=;"}},
		{"navigation without Sec-Fetch headers", "good", map[string]string{"Accept": "text/html,*/*"}, 303, "/?intra=ok",
			[]string{"state_token=;", "api_token=signed;"}},
		{"fetch", "good", map[string]string{"Sec-Fetch-Mode": "cors"}, 200, "",
			[]string{"state_token=;", "api_token=signed;"}},
		{"fetch, error", "bad", map[string]string{"Sec-Fetch-Mode": "cors"}, 403, "",
			[]string{"state_token=;"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", demo.URL+callbackPath+"?code=c&state="+tc.state, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, _ := mustDo(t, req)
			<-got
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
				t.Errorf("callback = %d Location %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
			}
			cookies := resp.Header.Values("Set-Cookie")
			if len(cookies) != len(tc.setCookiePrefix) {
				t.Fatalf("Set-Cookie = %q, want %d of them", cookies, len(tc.setCookiePrefix))
			}
			for i, p := range tc.setCookiePrefix {
				if !strings.HasPrefix(cookies[i], p) {
					t.Errorf("Set-Cookie[%d] = %q, want it to start with %q", i, cookies[i], p)
				}
			}
		})
	}
}

// TestQR: a POST of text to /qr.svg answers the SVG of its QR code,
// which nothing may cache, without calling authd; any other request is a
// 4xx with authd's form of error, never a 500.
func TestQR(t *testing.T) {
	up, got := mustUpstream(t)
	demo := mustDemo(t, up)
	url := "otpauth://totp/authd:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=authd&algorithm=SHA1&digits=6&period=30"
	fits := strings.Repeat("a", qr.Capacity(qr.MaxVersion, qrLevel))
	for _, tc := range []struct {
		name, method, body string
		status             int
		error              string // the error code, "" for the SVG
	}{
		{"an otpauth URL", "POST", url, 200, ""},
		{"the most a QR code holds", "POST", fits, 200, ""},
		{"UTF-8 beyond ASCII", "POST", "authd: clé ☃", 200, ""},
		{"a byte more than a QR code holds", "POST", fits + "a", 400, "too_long"},
		{"the most the body may be", "POST", strings.Repeat("a", maxQRBody), 400, "too_long"},
		{"a body too long to read", "POST", strings.Repeat("a", maxQRBody+1), 413, "too_long"},
		{"a megabyte", "POST", strings.Repeat("a", 1<<20), 413, "too_long"},
		{"an empty body", "POST", "", 400, "invalid_request"},
		{"not UTF-8", "POST", "otpauth://totp/\xff\xfe", 400, "invalid_request"},
		{"GET", "GET", "", 405, "method_not_allowed"},
		{"HEAD", "HEAD", "", 405, ""},
		{"PUT", "PUT", url, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, demo.URL+"/qr.svg", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
			resp, body := mustDo(t, req)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s /qr.svg = %d %.200s, want %d", tc.method, resp.StatusCode, body, tc.status)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if tc.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
			}
			if tc.status != 200 {
				var e struct{ Error, Detail string }
				if tc.method != "HEAD" && (json.Unmarshal([]byte(body), &e) != nil || e.Error != tc.error || e.Detail == "") {
					t.Errorf("the error is %.200s, want %s with a detail", body, tc.error)
				}
				return
			}
			h := resp.Header
			if h.Get("Content-Type") != "image/svg+xml" || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("Content-Security-Policy") != "default-src 'none'" {
				t.Errorf("headers %v", h)
			}
			code, err := qr.Encode([]byte(tc.body), qrLevel)
			if err != nil {
				t.Fatal(err)
			}
			if want := string(code.SVG(qrScale)); body != want {
				t.Errorf("the SVG is not the QR code of the body at level %v:\n%.300s\nwant\n%.300s", qrLevel, body, want)
			}
		})
	}
	select {
	case s := <-got:
		t.Errorf("authd received %s %s; the QR code is the demo's own", s.Method, s.Path)
	default:
	}
}

// TestQRWithinBounds: the longest otpauth URL authd makes is well within
// the body the demo reads.
func TestQRWithinBounds(t *testing.T) {
	longest := totp.URL(strings.Repeat("é", totp.MaxIssuer/2), strings.Repeat("u", account.MaxUsername), totp.NewSecret())
	if len(longest) > qr.Capacity(qr.MaxVersion, qrLevel) || qr.Capacity(qr.MaxVersion, qrLevel) > maxQRBody {
		t.Errorf("the longest otpauth URL is %d bytes, a QR code at %v holds %d, the body may be %d",
			len(longest), qrLevel, qr.Capacity(qr.MaxVersion, qrLevel), maxQRBody)
	}
}

func TestAuthdDown(t *testing.T) {
	up, _ := url.Parse("http://127.0.0.1:1") // nothing listens on port 1
	demo := mustDemo(t, up)
	req, _ := http.NewRequest("POST", demo.URL+"/auth/refresh/", nil)
	resp, body := mustDo(t, req)
	var e struct{ Error string }
	json.Unmarshal([]byte(body), &e)
	if resp.StatusCode != 502 || e.Error != "authd_unavailable" {
		t.Errorf("refresh with authd down = %d %s, want 502 authd_unavailable", resp.StatusCode, body)
	}
}

func TestRun(t *testing.T) {
	up, got := mustUpstream(t)
	demo := authdtest.MustStart(t, authdtest.Command{
		Name: "authd-demo",
		Run: func(ctx context.Context, stdout, stderr io.Writer) error {
			return run(ctx, []string{"-addr", "127.0.0.1:0", "-authd", up.String()}, stdout, stderr)
		},
	})
	req, _ := http.NewRequest("GET", demo.URL+"/healthz", nil)
	if resp, _ := mustDo(t, req); resp.StatusCode != 404 {
		t.Errorf("GET /healthz through the proxy = %d, want the upstream's 404", resp.StatusCode)
	}
	if s := <-got; s.Path != "/healthz" {
		t.Errorf("upstream got %s, want /healthz", s.Path)
	}
	if err := demo.Stop(); err != nil {
		t.Errorf("run after cancel: %v", err)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-authd", "127.0.0.1:8000"},
		{"-authd", "ftp://host/"},
		{"extra"},
		{"-nope"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if !errors.As(err, new(usageError)) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}
