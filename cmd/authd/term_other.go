//go:build !linux

package main

import (
	"errors"
	"io"
)

// promptNoEcho is only implemented on Linux; elsewhere the password comes
// from --password-stdin.
func promptNoEcho(stdin io.Reader, stderr io.Writer, prompt string) (string, error) {
	return "", errors.New("prompting for a password is not supported on this system; use --password-stdin")
}
