//go:build e2e

package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCurlWalkThrough runs the README's walk-through with the machine's
// curl, cookie jar and all, and Log in with 42 after it: after the intra
// login the jar holds refresh_token and not the api_token that the answer
// cleared. curl before 8.0 (Debian 12 ships 7.88.1) brought a cleared
// cookie back when the clearing line came before another cookie's.
func TestCurlWalkThrough(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is not installed")
		}
		t.Skip("curl is not installed")
	}
	version, _ := exec.Command(curl, "--version").Output()
	t.Logf("%s", strings.SplitN(string(version), "\n", 2)[0])

	a := mustAuthd(t, "authd", "", append(intraSettings(provider, redirectURI), generousThrottles()...)...)
	base := "http://localhost:" + a.Addr[strings.LastIndexByte(a.Addr, ':')+1:]
	jar := filepath.Join(t.TempDir(), "jar")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(curl, append([]string{"-s", "--max-time", "10"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	field := func(body, name string) string {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("answer %q is not JSON: %v", body, err)
		}
		s, _ := m[name].(string)
		if s == "" {
			t.Fatalf("answer %s has no %q", body, name)
		}
		return s
	}
	jarHas := func(when string, want ...string) {
		t.Helper()
		b, err := os.ReadFile(jar)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Split(line, "\t"); len(f) == 7 && f[6] != "" {
				got = append(got, f[5])
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: the jar holds %q, want %q", when, got, want)
		}
	}
	const creds = `{"username":"alice","password":"correct horse battery"}`
	asJSON := []string{"-H", "Content-Type: application/json"}

	field(run(append([]string{"-X", "POST", base + "/auth/register/", "-d", creds}, asJSON...)...), "username")
	token := field(run(append([]string{"-c", jar, "-X", "POST", base + "/auth/login/", "-d", creds}, asJSON...)...), "access_token")
	jarHas("after login", "refresh_token")
	if field(run(base+"/auth/me/", "-H", "Authorization: Bearer "+token), "username") != "alice" {
		t.Error("me is not alice")
	}
	field(run("-b", jar, "-X", "POST", base+"/auth/refresh/"), "access_token")
	field(run("-b", jar, "-c", jar, "-X", "POST", base+"/auth/logout/", "-H", "Authorization: Bearer "+token), "detail")
	jarHas("after logout")

	// Log in with 42: url, the provider's consent skipped as the README
	// says, the callback, the intra login.
	authorize := field(run("-b", jar, "-c", jar, base+"/oauth2/intra/url/"), "url")
	jarHas("after url", "state_token")
	location := run("-o", "/dev/null", "-w", "%{redirect_url}", authorize+"&login=jdoe&consent=authorize")
	back, err := url.Parse(location)
	if err != nil || back.RawQuery == "" {
		t.Fatalf("the provider sent the browser to %q", location)
	}
	field(run("-b", jar, "-c", jar, base+"/oauth2/intra/callback/?"+back.RawQuery), "detail")
	jarHas("after the callback", "api_token")
	token = field(run("-b", jar, "-c", jar, "-X", "POST", base+"/oauth2/intra/login/"), "access_token")
	jarHas("after intra login", "refresh_token")
	if field(run(base+"/auth/me/", "-H", "Authorization: Bearer "+token), "intra_login") != "jdoe" {
		t.Error("me after Log in with 42 is not jdoe's")
	}
	field(run("-b", jar, "-X", "POST", base+"/auth/refresh/"), "access_token")
}
