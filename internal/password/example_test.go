package password_test

import (
	"context"
	"fmt"

	"authd/internal/password"
)

func Example() {
	ctx := context.Background()
	h := password.NewHasher(password.Options{})

	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(encoded[:len("$argon2id$v=19$m=19456,t=2,p=1$")])

	ok, rehash, err := h.Verify(ctx, "correct horse battery staple", encoded)
	fmt.Println(ok, rehash, err)

	// An imported Django hash matches, and asks to be replaced.
	ok, rehash, err = h.Verify(ctx, "lètmein", "pbkdf2_sha256$12000$seasalt$Ybw8zsFxqja97tY/o6G+Fy1ksY4U/Hw3DRrGED6Up4s=")
	fmt.Println(ok, rehash, err)

	// A user without a password costs the same work and never matches.
	ok, rehash, err = h.Verify(ctx, "anything", "")
	fmt.Println(ok, rehash, err)
	// Output:
	// $argon2id$v=19$m=19456,t=2,p=1$
	// true false <nil>
	// true true <nil>
	// false false <nil>
}
