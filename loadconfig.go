package kms

import (
	"fmt"
	"io"
	"os"
)

// maxConfigFileSize bounds LoadConfig's read; a KMS config is a few hundred
// bytes.
const maxConfigFileSize = 1 << 20

// LoadConfig reads a Config from a JSON file with the same field names as the
// admin API's configure request (see Config). Fields absent from the file
// take the defaults of DefaultConfig; unknown fields are an error. Errors
// name the file and the offending field or offset but never echo a value.
//
// LoadConfig does not validate (so that ConfigFromEnv can still supply, say,
// the master key); Configure does, or call Config.Validate. Secrets are
// better kept out of the file: use master_key_file, auth_method.token_file or
// auth_method.approle.secret_id_file, which are read at Start.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("kms: load config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("kms: load config %s: %w", path, err)
	}
	defer clear(b) // the file may hold secrets
	if len(b) > maxConfigFileSize {
		return Config{}, fmt.Errorf("kms: load config %s: %w", path, &ConfigError{Problems: []FieldProblem{{Problem: fmt.Sprintf("file larger than %d bytes", maxConfigFileSize)}}})
	}
	c, err := decodeConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("kms: load config %s: %w", path, err)
	}
	return c, nil
}
