package authdtest

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// The fake provider's consent page: a form per button, hidden fields.
var (
	formRE   = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)">(.*?)</form>`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	buttonRE = regexp.MustCompile(`<button type="submit"[^>]*>([^<]+)</button>`)
)

// MustConsent opens the provider's consent page at authorize, signs in as
// login and presses button ("Authorize" or "Cancel") as a person would,
// by submitting that button's form. It returns where the provider sends
// the browser: authd's callback.
func (c *Client) MustConsent(authorize, login, button string) string {
	c.t.Helper()
	page := c.Get(authorize)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "Authorization required") {
		c.t.Fatalf("consent page = %d:\n%s", page.Status, page.Body)
	}
	base, err := url.Parse(authorize)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, f := range formRE.FindAllStringSubmatch(string(page.Body), -1) {
		action, inner := f[1], f[2]
		btn := buttonRE.FindStringSubmatch(inner)
		if btn == nil || strings.TrimSpace(btn[1]) != button {
			continue
		}
		form := url.Values{}
		for _, in := range hiddenRE.FindAllStringSubmatch(inner, -1) {
			form.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		if button == "Authorize" {
			form.Set("login", login) // the page's picker of who is signed in
		}
		to, err := base.Parse(html.UnescapeString(action))
		if err != nil {
			c.t.Fatal(err)
		}
		r := c.PostForm(to.String(), form)
		r.Want(c.t, button+" on the consent page", http.StatusFound, "")
		return r.Header.Get("Location")
	}
	c.t.Fatalf("the consent page has no %q button:\n%s", button, page.Body)
	return ""
}

// MustAuthorize skips the consent page with the fake provider's own
// parameters, authorizing as login, and returns where the provider sends
// the browser.
func (c *Client) MustAuthorize(authorize, login string) string {
	c.t.Helper()
	r := c.Get(authorize + "&login=" + url.QueryEscape(login) + "&consent=authorize")
	r.Want(c.t, "authorize as "+login, http.StatusFound, "")
	return r.Header.Get("Location")
}
