package authdtest

import "net/url"

// Session is one entry of GET /auth/sessions/.
type Session struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	ExpiresAt  string `json:"expires_at"`
	Method     string `json:"method"`
	UserAgent  string `json:"user_agent"`
	IP         string `json:"ip"`
	Current    bool   `json:"current"`
}

// SessionsResponse is the answer of GET /auth/sessions/.
type SessionsResponse struct {
	Response `json:"-"`
	Sessions []Session `json:"sessions"`
}

// Current returns the session marked current, or the zero Session.
func (s SessionsResponse) Current() Session {
	for _, x := range s.Sessions {
		if x.Current {
			return x
		}
	}
	return Session{}
}

// Sessions is GET /auth/sessions/ with an access token.
func (c *Client) Sessions(access string) SessionsResponse {
	c.t.Helper()
	return typed[SessionsResponse](c, "sessions", c.Call("GET", "/auth/sessions/", access, nil))
}

// EndSession is DELETE /auth/sessions/{id}/ with an access token.
func (c *Client) EndSession(access, id string) DetailResponse {
	c.t.Helper()
	return typed[DetailResponse](c, "end session", c.Call("DELETE", "/auth/sessions/"+url.PathEscape(id)+"/", access, nil))
}

// LogoutScope is POST /auth/logout/ with an access token and a scope.
func (c *Client) LogoutScope(access, scope string) DetailResponse {
	c.t.Helper()
	return typed[DetailResponse](c, "logout "+scope, c.Call("POST", "/auth/logout/", access, map[string]string{"scope": scope}))
}

// ChangePassword is POST /auth/password/ with an access token.
func (c *Client) ChangePassword(access, current, newPassword string) DetailResponse {
	c.t.Helper()
	body := map[string]string{"current_password": current, "new_password": newPassword}
	return typed[DetailResponse](c, "change password", c.Call("POST", "/auth/password/", access, body))
}

// IntraUnlink is DELETE /oauth2/intra/link/ with an access token.
func (c *Client) IntraUnlink(access string) DetailResponse {
	c.t.Helper()
	return typed[DetailResponse](c, "intra unlink", c.Call("DELETE", "/oauth2/intra/link/", access, nil))
}
