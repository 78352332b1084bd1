package httpapi

import (
	"net/http"
	"time"
)

// The cookies of the contract.
const (
	cookieRefresh = "refresh_token"
	cookieState   = "state_token"
	cookieAPI     = "api_token"
)

// stateTTL is the lifetime of state_token: the time a user has to answer
// the provider's consent page. state_token's value is also what the
// flow's PKCE code verifier is derived from.
const stateTTL = 10 * time.Minute

// sameSite returns the SameSite mode of a cookie. refresh_token takes the
// configured mode; state_token and api_token stay Lax, which they need to
// survive the top-level redirect back from Intra, unless the configured
// mode is None (a front end on another site), which applies to all three.
func (s *Server) sameSite(name string) http.SameSite {
	mode := s.Config.CookieSameSite
	if name != cookieRefresh && mode != http.SameSiteNoneMode {
		return http.SameSiteLaxMode
	}
	return mode
}

// setCookie sets name to value for ttl with the contract's attributes.
func (s *Server) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Domain:   s.Config.CookieDomain,
		MaxAge:   int(ttl / time.Second),
		Secure:   s.Config.CookieSecure,
		HttpOnly: true,
		SameSite: s.sameSite(name),
	})
}

// clearCookie tells the browser to drop name: same name and Path, an
// empty value and Max-Age=0.
func (s *Server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     "/",
		Domain:   s.Config.CookieDomain,
		MaxAge:   -1, // written as Max-Age=0
		Secure:   s.Config.CookieSecure,
		HttpOnly: true,
		SameSite: s.sameSite(name),
	})
}

// cookieValue returns the value of the named cookie and whether the
// request sent one at all (an empty value still counts as sent).
func cookieValue(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}
