package token

import (
	"testing"
	"time"
)

// benchClaims are those of a typical access token.
var benchClaims = Claims{
	Subject:   "123456",
	Username:  "alice_42",
	SessionID: "k3J9xq0vT1mZ8aB2cD4eFg",
	Type:      Access,
}

func BenchmarkSign(b *testing.B) {
	i := mustIssuer(b, nil, testKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := i.Sign(benchClaims, 15*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	i := mustIssuer(b, nil, testKey)
	tok := mustSignString(b, i, benchClaims)
	b.ReportAllocs()
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		if _, err := i.Verify(tok, Access); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	i := mustIssuer(b, nil, testKey)
	tok := mustSignString(b, i, benchClaims)
	b.ReportAllocs()
	b.SetBytes(int64(len(tok)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := i.Verify(tok, Access); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSignEdDSA(b *testing.B) {
	r := mustEdKeyring(b, nil, edKeyOf('a'))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Sign(benchClaims, 15*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyEdDSA(b *testing.B) {
	r := mustEdKeyring(b, nil, edKeyOf('a'))
	tok, _ := mustSign(b, r.access, benchClaims, time.Hour)
	b.ReportAllocs()
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		if _, err := r.Verify(tok, Access); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyEdDSAParallel(b *testing.B) {
	r := mustEdKeyring(b, nil, edKeyOf('a'))
	tok, _ := mustSign(b, r.access, benchClaims, time.Hour)
	b.ReportAllocs()
	b.SetBytes(int64(len(tok)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Verify(tok, Access); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
