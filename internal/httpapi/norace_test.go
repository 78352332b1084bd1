//go:build !race

package httpapi

// raceDetector tells whether the tests run with the race detector, which
// makes hashing several times slower.
const raceDetector = false
