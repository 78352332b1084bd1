//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"authd/internal/authdtest"
)

// contractRows are the endpoints the contract adds to the seed's
// (testdata/contract/endpoints.json, rows of the seed's form), by name:
// how to reach each one's success, returning its parameters, and a
// failure of it, when it has one a client can cause.
func contractRows(a *authd) map[string]struct {
	reach   func(t *testing.T, b *authdtest.Client) map[string]string
	failure failureOf
} {
	rows := map[string]struct {
		reach   func(t *testing.T, b *authdtest.Client) map[string]string
		failure failureOf
	}{
		"Register": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				return map[string]string{"username": "table_register", "password": seedPassword}
			},
			failureOf{"the same username again, taken", sameAgain},
		},
		"Gate": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_gate", seedPassword)
				return map[string]string{"bearer": b.MustLogin("table_gate", seedPassword).AccessToken}
			},
			failureOf{"a Bearer token of a session ended", func(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request {
				b.MustLogout(params["bearer"])
				return seedRequest(t, e, params)
			}},
		},
		// The document is public and the same for every request: nothing
		// a client sends makes it fail.
		"OpenAPI document": {
			func(t *testing.T, b *authdtest.Client) map[string]string { return nil },
			failureOf{},
		},
		"Me": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_me", seedPassword)
				return map[string]string{"bearer": b.MustLogin("table_me", seedPassword).AccessToken}
			},
			failureOf{"a Bearer token of a session ended", func(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request {
				b.MustLogout(params["bearer"])
				return seedRequest(t, e, params)
			}},
		},
		"Sessions": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_sessions", seedPassword)
				return map[string]string{"bearer": b.MustLogin("table_sessions", seedPassword).AccessToken}
			},
			failureOf{"a Bearer token of a session ended", func(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request {
				b.MustLogout(params["bearer"])
				return seedRequest(t, e, params)
			}},
		},
		"End a session": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_end", seedPassword)
				access := b.MustLogin("table_end", seedPassword).AccessToken
				other := clientOf(t, a)
				id := other.Sessions(other.MustLogin("table_end", seedPassword).AccessToken).Current().ID
				return map[string]string{"bearer": access, "id": id}
			},
			failureOf{"the same session again, ended", sameAgain},
		},
		"Logout of the other sessions": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_others", seedPassword)
				return map[string]string{"bearer": b.MustLogin("table_others", seedPassword).AccessToken, "scope": "others"}
			},
			failureOf{"a scope other than the three", func(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request {
				p := maps.Clone(params)
				p["scope"] = "everyone"
				return seedRequest(t, e, p)
			}},
		},
		"Change password": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_password", seedPassword)
				return map[string]string{"bearer": b.MustLogin("table_password", seedPassword).AccessToken,
					"current_password": seedPassword, "new_password": "a new table password"}
			},
			failureOf{"the old password as the current one", sameAgain},
		},
		"Intra unlink": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_unlink", seedPassword)
				access := b.MustLogin("table_unlink", seedPassword).AccessToken
				b.MustIntraIdentity("tnguyen")
				b.MustIntraLink(access)
				return map[string]string{"bearer": access}
			},
			failureOf{"unlinking twice", sameAgain},
		},
	}
	maps.Copy(rows, twoFactorRows(a))
	return rows
}

// TestContractTable checks the rows the contract adds as TestSeedTable
// checks the seed's: success code, return values, exactly the row's
// cookies, 401 without a Bearer token, a failure among the row's codes.
func TestContractTable(t *testing.T) {
	t.Parallel()
	s := mustSeed(t)
	rows := mustContractRows(t)
	a := mustAuthd(t, "authd", "", journeySettings()...)
	reach := contractRows(a)
	if len(rows) != len(reach) {
		t.Fatalf("testdata/contract/endpoints.json has %d rows, the test reaches %d", len(rows), len(reach))
	}
	for _, e := range rows {
		t.Run(e.Name, func(t *testing.T) {
			row, ok := reach[e.Name]
			if !ok {
				t.Fatalf("no way to reach %s %s", e.Method, e.Path)
			}
			b := clientOf(t, a, authdtest.RawCookies())
			var f *failureOf
			if row.failure.make != nil {
				f = &row.failure
			}
			checkRowWith(t, s, e, b, false, row.reach(t, b), f)
		})
	}
}

// mustContractRows reads testdata/contract/endpoints.json, refusing
// unknown fields as mustSeed does.
func mustContractRows(t *testing.T) []endpoint {
	t.Helper()
	var rows []endpoint
	data, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "contract", "endpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("testdata/contract/endpoints.json: %v", err)
	}
	for _, e := range rows {
		if e.Throttle == "" {
			continue
		}
		if _, _, err := parseRate(e.Throttle); err != nil {
			t.Fatalf("testdata/contract/endpoints.json: %s: %v", e.Name, err)
		}
	}
	return rows
}
