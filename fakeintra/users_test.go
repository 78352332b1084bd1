package fakeintra_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
)

// meFields are the top-level fields of /v2/me, in the provider's order.
var meFields = []string{
	"id", "email", "login", "first_name", "last_name", "usual_full_name", "usual_first_name", "url", "phone",
	"displayname", "kind", "image", "staff?", "correction_point", "pool_month", "pool_year", "location", "wallet",
	"anonymize_date", "data_erasure_date", "created_at", "updated_at", "alumnized_at", "alumni?", "active?",
	"groups", "cursus_users", "projects_users", "languages_users", "achievements", "titles", "titles_users",
	"partnerships", "patroned", "patroning", "expertises_users", "roles", "campus", "campus_users",
}

// topKeys lists the top-level keys of a JSON object in order.
func topKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestFixtureUsers(t *testing.T) {
	t.Parallel()
	users := mustUsers(t)
	var logins []string
	for _, u := range users {
		logins = append(logins, u.Login)
	}
	want := []string{"jdoe", "gfavre", "tnguyen", "cmuller", "alice", "kvanderb"}
	if diff := cmp.Diff(want, logins); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
	byLogin := map[string]fakeintra.User{}
	loginRule := regexp.MustCompile(`^[a-z]{1,8}$`)
	for _, u := range users {
		byLogin[u.Login] = u
		if !loginRule.MatchString(u.Login) {
			t.Errorf("login %q is not up to 8 lowercase letters", u.Login)
		}
		if diff := cmp.Diff(meFields, topKeys(t, u.Document)); diff != "" {
			t.Errorf("%s: fields (-want +got):\n%s", u.Login, diff)
		}
		if u.ID <= 0 || u.Email == "" || u.DisplayName == "" {
			t.Errorf("%s: incomplete %+v", u.Login, u)
		}
	}
	if u := byLogin["gfavre"]; !u.Staff || u.Kind != "admin" {
		t.Errorf("gfavre is not staff: %+v", u)
	}
	if u := byLogin["jdoe"]; u.Staff || u.Kind != "student" || u.ImageLink == "" {
		t.Errorf("jdoe is not a student with a picture: %+v", u)
	}
	noImage := byLogin["tnguyen"]
	if noImage.ImageLink != "" || !strings.Contains(string(noImage.Document), `"image":{"link":null,`) {
		t.Errorf("tnguyen has a picture: %q", noImage.ImageLink)
	}
	uni := byLogin["cmuller"]
	if !hasNonASCII(uni.Email) || !hasNonASCII(uni.DisplayName) {
		t.Errorf("cmuller's email %q and display name %q are not both non-ASCII", uni.Email, uni.DisplayName)
	}
	if len(byLogin["kvanderb"].Login) != 8 {
		t.Error("no 8-letter login")
	}
}

func hasNonASCII(s string) bool {
	return utf8.RuneCountInString(s) < len(s)
}

func TestLoadUsersErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := map[string]string{
		"not json":         `[{"id":1,`,
		"not an array":     `{"id":1,"login":"a"}`,
		"empty":            `[]`,
		"no id":            `[{"login":"a"}]`,
		"string id":        `[{"id":"1","login":"a"}]`,
		"no login":         `[{"id":1}]`,
		"id used twice":    `[{"id":1,"login":"a"},{"id":1,"login":"b"}]`,
		"login used twice": `[{"id":1,"login":"a"},{"id":2,"login":"a"}]`,
	}
	for name, content := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := fakeintra.LoadUsers(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := fakeintra.LoadUsers(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestSynthesizedDocument(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, func(o *fakeintra.Options) {
		o.Users = []fakeintra.User{
			{ID: 7, Login: "pic", Email: "pic@student.42.fr", DisplayName: "Pi Cee", ImageLink: "https://cdn.intra.42.fr/users/abc/pic.jpg"},
			{ID: 8, Login: "nopic", Email: "nopic@42.fr", DisplayName: "No Pic", Kind: "admin", Staff: true},
		}
	})
	type doc struct {
		ID          int64  `json:"id"`
		Login       string `json:"login"`
		Email       string `json:"email"`
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
		DisplayName string `json:"displayname"`
		Kind        string `json:"kind"`
		Staff       bool   `json:"staff?"`
		Image       struct {
			Link     *string            `json:"link"`
			Versions map[string]*string `json:"versions"`
		} `json:"image"`
	}
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		login string
		want  doc
	}{
		{"pic", func() doc {
			d := doc{ID: 7, Login: "pic", Email: "pic@student.42.fr", FirstName: "Pi", LastName: "Cee", DisplayName: "Pi Cee", Kind: "student"}
			d.Image.Link = str("https://cdn.intra.42.fr/users/abc/pic.jpg")
			d.Image.Versions = map[string]*string{
				"large": str("https://cdn.intra.42.fr/users/abc/large_pic.jpg"), "medium": str("https://cdn.intra.42.fr/users/abc/medium_pic.jpg"),
				"small": str("https://cdn.intra.42.fr/users/abc/small_pic.jpg"), "micro": str("https://cdn.intra.42.fr/users/abc/micro_pic.jpg"),
			}
			return d
		}()},
		{"nopic", func() doc {
			d := doc{ID: 8, Login: "nopic", Email: "nopic@42.fr", FirstName: "No", LastName: "Pic", DisplayName: "No Pic", Kind: "admin", Staff: true}
			d.Image.Versions = map[string]*string{"large": nil, "medium": nil, "small": nil, "micro": nil}
			return d
		}()},
	} {
		w := getMe(s, mustToken(t, s, tc.login).AccessToken)
		body := w.Body.Bytes()
		if diff := cmp.Diff(meFields, topKeys(t, body)); diff != "" {
			t.Errorf("%s: fields (-want +got):\n%s", tc.login, diff)
		}
		if diff := cmp.Diff(tc.want, mustDecode[doc](t, bytes.NewReader(body))); diff != "" {
			t.Errorf("%s: document (-want +got):\n%s", tc.login, diff)
		}
	}
}

func TestBuiltinUsers(t *testing.T) {
	t.Parallel()
	s := fakeintra.New(fakeintra.Options{Clients: []fakeintra.Client{app}})
	var logins []string
	for _, u := range s.Users() {
		logins = append(logins, u.Login)
		w := getMe(s, mustToken(t, s, u.Login).AccessToken)
		if diff := cmp.Diff(meFields, topKeys(t, w.Body.Bytes())); diff != "" {
			t.Errorf("%s: fields (-want +got):\n%s", u.Login, diff)
		}
	}
	if diff := cmp.Diff([]string{"jdoe", "gfavre"}, logins); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
}

func TestDevCredentials(t *testing.T) {
	t.Parallel()
	id := regexp.MustCompile(`^u-s4t2ud-[0-9a-f]{64}$`)
	secret := regexp.MustCompile(`^s-s4t2ud-[0-9a-f]{64}$`)
	if !id.MatchString(fakeintra.DevClientID) || !secret.MatchString(fakeintra.DevClientSecret) {
		t.Errorf("development credentials %q, %q are not in the provider's formats", fakeintra.DevClientID, fakeintra.DevClientSecret)
	}
}
