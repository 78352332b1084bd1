//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/internal/authdtest"
)

// A reverse proxy admits a request to the service behind it only when
// authd's gate, GET /auth/verify/, says its access token is live, and
// passes the user on in X-Auth-* headers. Each proxy runs as a process of
// the test, from the machine's Debian package, in front of an upstream
// that answers with the headers it received.

// proxy is one reverse proxy the gate is tried behind: its program and
// the configuration that puts it in front of upstream, asking authd.
type proxy struct {
	name string
	// program is looked up on PATH, then in /usr/sbin.
	program string
	// config writes the proxy's files into dir and returns its arguments.
	config func(dir string, listen, authd, upstream string) []string
}

var proxies = []proxy{
	{name: "nginx", program: "nginx", config: nginxConfig},
	{name: "caddy", program: "caddy", config: caddyConfig},
}

// gateHeaders are the headers the gate sets and the proxies pass on.
var gateHeaders = []string{"X-Auth-User-Id", "X-Auth-Username", "X-Auth-Session-Id"}

// nginxConfig is nginx with auth_request: its files, pid and temporary
// folders in dir, in the foreground, logging to stderr.
func nginxConfig(dir, listen, authd, upstream string) []string {
	var set, pass strings.Builder
	for _, h := range gateHeaders {
		v := "$auth_" + strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(h, "X-Auth-"), "-", "_"))
		fmt.Fprintf(&set, "            auth_request_set %s $upstream_http_%s;\n", v, strings.ToLower(strings.ReplaceAll(h, "-", "_")))
		fmt.Fprintf(&pass, "            proxy_set_header %s %s;\n", h, v)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers read the configuration's folder
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log stderr info;
events { worker_connections 64; }
http {
    access_log /dev/stderr;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    server {
        listen %[3]s;
        location = /_ready { return 200 "ready\n"; }
        location = /_authd_gate {
            internal;
            proxy_pass http://%[4]s/auth/verify/;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }
        location / {
            auth_request /_authd_gate;
%[5]s%[6]s            proxy_pass http://%[7]s;
        }
    }
}
`, user, dir, listen, authd, set.String(), pass.String(), upstream)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	return []string{"-p", dir, "-c", filepath.Join(dir, "nginx.conf")}
}

// caddyConfig is Caddy with forward_auth, its admin endpoint and
// automatic HTTPS off.
func caddyConfig(dir, listen, authd, upstream string) []string {
	conf := fmt.Sprintf(`{
	admin off
	auto_https off
	storage file_system %[1]s/data
}
http://%[2]s {
	handle /_ready {
		respond "ready" 200
	}
	handle {
		forward_auth %[3]s {
			uri /auth/verify/
			copy_headers %[4]s
		}
		reverse_proxy %[5]s
	}
}
`, dir, listen, authd, strings.Join(gateHeaders, " "), upstream)
	os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(conf), 0o644)
	return []string{"run", "--adapter", "caddyfile", "--config", filepath.Join(dir, "Caddyfile")}
}

// findProgram returns the path of a proxy's program, or "" when the
// machine has none.
func findProgram(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); fileExists(p) {
		return p
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// freeAddr returns a loopback address nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// echoUpstream is the service behind the proxy: it answers 200 with the
// X-Auth-* headers it received, as JSON, and counts its requests.
type echoUpstream struct {
	*httptest.Server
	hits atomic.Int64
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	u := &echoUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		got := map[string][]string{}
		for _, h := range gateHeaders {
			got[h] = r.Header.Values(h)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(got)
	}))
	t.Cleanup(u.Close)
	return u
}

// TestGateBehindProxies puts authd's gate behind nginx (auth_request) and
// Caddy (forward_auth): a request without a token, or with a refresh
// token, is refused at the proxy and never reaches the upstream; one with
// an access token reaches it with the user's headers (a client's own
// X-Auth-* headers overwritten); after logout the same token is refused
// at once.
func TestGateBehindProxies(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)
	for _, p := range proxies {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			bin := findProgram(p.program)
			if bin == "" {
				msg := fmt.Sprintf("%s is not installed (apt-get install -y %s)", p.program, p.program)
				if os.Getenv("CI") != "" {
					t.Fatal("under CI: " + msg)
				}
				t.Skip(msg)
			}
			up := newEchoUpstream(t)
			dir := t.TempDir()
			os.Chmod(dir, 0o755)
			listen := freeAddr(t)
			px := authdtest.MustStart(t, authdtest.Command{
				Name:   p.name,
				Path:   bin,
				Args:   p.config(dir, listen, a.Addr, strings.TrimPrefix(up.URL, "http://")),
				Env:    []string{"XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir},
				Addr:   listen,
				Ready:  "/_ready",
				LogDir: outDir,
			})

			user := "proxied_" + p.name
			c := clientOf(t, a)
			id := c.MustRegister(user, "a proxied user's password").ID
			access := c.MustLogin(user, "a proxied user's password").AccessToken
			sid := c.Verify(access).SessionID
			if sid == "" {
				t.Fatal("the gate named no session")
			}
			through := authdtest.NewClient(t, px.URL)
			call := func(bearer string, header ...string) authdtest.Response {
				req := through.NewRequest("GET", "/service/page?x=1", bearer, nil)
				for i := 0; i+1 < len(header); i += 2 {
					req.Header.Set(header[i], header[i+1])
				}
				return through.Do(req)
			}

			hits := up.hits.Load()
			if r := call(""); r.Status != 401 {
				t.Errorf("no token through %s = %s, want 401", p.name, r)
			}
			if r := call(c.Cookie("refresh_token")); r.Status != 401 {
				t.Errorf("the refresh token through %s = %s, want 401", p.name, r)
			}
			if r := call("", "X-Auth-User-Id", "1", "X-Auth-Username", "admin"); r.Status != 401 {
				t.Errorf("forged X-Auth headers without a token through %s = %s, want 401", p.name, r)
			}
			if n := up.hits.Load() - hits; n != 0 {
				t.Errorf("%d refused requests reached the upstream", n)
			}

			r := call(access, "X-Auth-User-Id", "1", "X-Auth-Username", "admin")
			if r.Status != 200 {
				t.Fatalf("an access token through %s = %s, want 200 from the upstream", p.name, r)
			}
			var seen map[string][]string
			r.MustDecode(t, &seen)
			want := map[string][]string{
				"X-Auth-User-Id":    {strconv.FormatInt(id, 10)},
				"X-Auth-Username":   {user},
				"X-Auth-Session-Id": {sid},
			}
			if diff := cmp.Diff(want, seen); diff != "" {
				t.Errorf("headers the upstream received through %s (-want +got):\n%s", p.name, diff)
			}

			c.MustLogout(access)
			hits = up.hits.Load()
			if r := call(access); r.Status != 401 {
				t.Errorf("the token through %s right after logout = %s, want 401", p.name, r)
			}
			if n := up.hits.Load() - hits; n != 0 {
				t.Errorf("the request after logout reached the upstream")
			}
		})
	}
}
