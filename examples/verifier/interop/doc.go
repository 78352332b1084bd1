// Package interop checks that authd's access tokens verify with the JWT
// libraries services commonly use: golang-jwt v5, with keys from the
// JWKS through keyfunc (a JWKS-fetching client). It is a module of its
// own, so that authd itself does not depend on them; its test builds and
// runs authd from this repository.
package interop
