package s3srv

import (
	"strings"
	"unicode/utf8"
)

// validBucketName applies S3's bucket naming rules (3..63 characters of
// lowercase letters, digits, '.' and '-', starting and ending with a letter
// or digit, no "..", not an IP address). The rules also make the name safe as
// a directory name. "admin" is reserved for the admin API.
func validBucketName(name string) *Error {
	if len(name) < 3 || len(name) > 63 || name == "admin" || strings.Contains(name, "..") {
		return errInvalidBucketName()
	}
	digitsAndDots := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		lower := c >= 'a' && c <= 'z'
		digit := c >= '0' && c <= '9'
		if !lower && !digit && c != '.' && c != '-' {
			return errInvalidBucketName()
		}
		if (i == 0 || i == len(name)-1) && !lower && !digit {
			return errInvalidBucketName()
		}
		if lower || c == '-' {
			digitsAndDots = false
		}
	}
	if digitsAndDots && strings.Count(name, ".") == 3 {
		return errInvalidBucketName() // looks like an IPv4 address
	}
	return nil
}

// validObjectKey checks an object key: 1..1024 bytes of valid UTF-8.
func validObjectKey(key string) *Error {
	switch {
	case key == "":
		return errInvalidArgument("Object key must not be empty.")
	case len(key) > 1024:
		return errKeyTooLong()
	case !utf8.ValidString(key):
		return errInvalidArgument("Object key must be valid UTF-8.")
	}
	return nil
}
