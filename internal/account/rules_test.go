package account

import "testing"

func TestValidUsername(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]bool{
		"abc": true, "Alice.B-c_9": true, "ab": false, "": false,
		"abcdefghijklmnopqrstuvwxyz012345": true, "abcdefghijklmnopqrstuvwxyz0123456": false,
		"a b": false, "al@ce": false, "zoë": false, "a/b": false, "a\x00b": false,
	} {
		if got := ValidUsername(u); got != want {
			t.Errorf("ValidUsername(%q) = %v, want %v", u, got, want)
		}
	}
}
