package store

// Username rules: 3 to 32 ASCII letters, digits, '_', '-' and '.', unique
// without regard to case. Every way a user is created follows them.
const (
	MinUsername = 3
	MaxUsername = 32
)

// UsernameByte reports whether c may appear in a username.
func UsernameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// ValidUsername reports whether u follows the username rules.
func ValidUsername(u string) bool {
	if len(u) < MinUsername || len(u) > MaxUsername {
		return false
	}
	for i := 0; i < len(u); i++ {
		if !UsernameByte(u[i]) {
			return false
		}
	}
	return true
}
