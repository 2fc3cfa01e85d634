package pgstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrInlinePassword is what a DSN carrying a password gets: what to do, and
// never the DSN or the password.
var ErrInlinePassword = errors.New("open postgres store: the DSN holds a password; remove it from the DSN and " +
	"provide it through PGPASSWORD, a PGPASSFILE (.pgpass) file, or the configuration's store-password-file")

// CheckDSN refuses, without connecting, every DSN Open would refuse before
// it connects: one holding a password (ErrInlinePassword) and one pgx
// cannot parse. Its errors never quote a password.
func CheckDSN(dsn string) error {
	if err := checkDSN(dsn); err != nil {
		return err
	}
	if _, err := pgxpool.ParseConfig(dsn); err != nil {
		// pgx redacts passwords in its parse errors; there is none anyway.
		return fmt.Errorf("open postgres store: %w", err)
	}
	return nil
}

// checkDSN refuses a DSN that holds a password: a URL's userinfo password or
// password query parameter, or a key=value string's password key. Its
// errors never quote the DSN.
func checkDSN(dsn string) error {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return checkURL(dsn)
	}
	keys, err := keywordKeys(dsn)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k == "password" {
			return ErrInlinePassword
		}
	}
	return nil
}

func checkURL(dsn string) error {
	rest := dsn[strings.Index(dsn, "://")+3:]
	authority, query := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
		if j := strings.IndexByte(rest, '?'); j >= 0 {
			query = rest[j+1:]
			if k := strings.IndexByte(query, '#'); k >= 0 {
				query = query[:k]
			}
		}
	}
	// libpq URLs may list several hosts, which net/url does not parse;
	// userinfo is everything before the last '@' of the authority.
	if at := strings.LastIndexByte(authority, '@'); at >= 0 && strings.Contains(authority[:at], ":") {
		return ErrInlinePassword
	}
	for _, pair := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if strings.EqualFold(strings.TrimSpace(k), "password") {
			return ErrInlinePassword
		}
	}
	return nil
}

// keywordKeys lists the keys of a libpq key=value connection string
// (values bare or single-quoted with backslash escapes).
func keywordKeys(s string) ([]string, error) {
	bad := errors.New("open postgres store: the DSN is neither a postgres:// URL nor a key=value string (host=... dbname=... user=...)")
	var keys []string
	i := 0
	skipSpace := func() {
		for i < len(s) && strings.IndexByte(" \t\n\r\f\v", s[i]) >= 0 {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) {
			return keys, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && strings.IndexByte(" \t\n\r\f\v", s[i]) < 0 {
			i++
		}
		key := s[start:i]
		skipSpace()
		if key == "" || i >= len(s) || s[i] != '=' {
			return nil, bad
		}
		i++
		skipSpace()
		keys = append(keys, strings.ToLower(key))
		if i < len(s) && s[i] == '\'' {
			i++
			for {
				if i >= len(s) {
					return nil, bad
				}
				if s[i] == '\\' {
					i += 2
					continue
				}
				if s[i] == '\'' {
					i++
					break
				}
				i++
			}
			continue
		}
		for i < len(s) && strings.IndexByte(" \t\n\r\f\v", s[i]) < 0 {
			if s[i] == '\\' {
				i++
			}
			i++
		}
	}
}
