package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"authd/internal/accesskeys"
	"authd/internal/config"
	"authd/internal/store"
	"authd/internal/token"
)

// keysCommand administers the keys of access tokens: rotate adds an
// Ed25519 key that every replica publishes at once and that signs after
// AUTHD_KEY_PUBLISH_DELAY; list shows every key and where it stands;
// access-secret prints the HS256 keys that verify access tokens, for the
// services that verify them with a shared key.
func keysCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usageError{Msg: "keys: want rotate, list or access-secret"}
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "rotate", "list", "access-secret":
	default:
		return usageError{Msg: fmt.Sprintf("keys: unknown subcommand %q; want rotate, list or access-secret", sub)}
	}
	fs := flag.NewFlagSet("authd keys "+sub, flag.ContinueOnError)
	cfg, err := loadConfig(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{Msg: fmt.Sprintf("keys %s takes no arguments", sub)}
	}
	st, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()

	switch sub {
	case "rotate":
		k, err := accesskeys.Rotate(ctx, st, now, cfg.KeyPublishDelay)
		if err != nil {
			return fmt.Errorf("keys rotate: %w", err)
		}
		fmt.Fprintf(stdout, "added Ed25519 key %d, kid %s: published now, signs from %s\n",
			k.Seq, k.ID, k.ActivatesAt.UTC().Format(time.RFC3339))
		if cfg.AccessAlg != config.AlgEdDSA {
			fmt.Fprintln(stdout, "note: AUTHD_ACCESS_ALG is HS256; Ed25519 keys sign once it is EdDSA")
		}
	case "list":
		keys, err := st.AccessKeys(ctx)
		if err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
		fmt.Fprintf(stdout, "access tokens: %s (AUTHD_ACCESS_ALG)\n\n", cfg.AccessAlg)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tKID\tALG\tCREATED\tSIGNS FROM\tSTATUS")
		for _, s := range accesskeys.Plan(keys, now, cfg.AccessTTL) {
			status := string(s.Status)
			switch s.Status {
			case accesskeys.Pending:
				status = "pending: published, signs from SIGNS FROM"
			case accesskeys.Retiring:
				status = "retiring: published until " + s.Until.UTC().Format(time.RFC3339)
			case accesskeys.Retired:
				status = "retired: every token it signed has expired"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.Key.Seq, s.Key.ID, s.Key.Alg,
				s.Key.CreatedAt.UTC().Format(time.RFC3339), s.Key.ActivatesAt.UTC().Format(time.RFC3339), status)
		}
		if len(keys) == 0 {
			fmt.Fprintln(tw, "-\tno Ed25519 key yet\t\t\t\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		secrets, source, err := accessSecrets(ctx, cfg, st)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nHS256 keys of access tokens, derived from %s:\n", source)
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tSTATUS")
		for n, k := range secrets {
			status := "verifies"
			if n == 0 {
				status = "signs"
			}
			fmt.Fprintf(tw, "%s\t%s\n", token.HS256KeyID(k), status)
		}
		return tw.Flush()
	case "access-secret":
		secrets, _, err := accessSecrets(ctx, cfg, st)
		if err != nil {
			return err
		}
		type octKey struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			K   string `json:"k"`
		}
		set := struct {
			Keys []octKey `json:"keys"`
		}{}
		for _, k := range secrets {
			set.Keys = append(set.Keys, octKey{Kty: "oct", Kid: token.HS256KeyID(k), Alg: "HS256", Use: "sig", K: base64.RawURLEncoding.EncodeToString(k)})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(set)
	}
	return nil
}

// accessSecrets returns the HS256 keys of access tokens, the signing one
// first, and says what they are derived from.
func accessSecrets(ctx context.Context, cfg config.Config, st store.Store) ([][]byte, string, error) {
	secrets, err := signingKeys(ctx, cfg, st)
	if err != nil {
		return nil, "", err
	}
	ring, err := token.NewKeyring(token.Options{Issuer: cfg.Issuer, Secrets: secrets})
	if err != nil {
		return nil, "", err
	}
	source := "AUTHD_JWT_SECRET"
	if len(cfg.JWTSecrets) == 0 {
		source = "the key generated in the database"
	}
	return ring.AccessSecrets(), source, nil
}
