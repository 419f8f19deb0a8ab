package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// APIv2KeyFile is the APIv2 key (API密钥), 32 letters and digits, mode
// 0600: WeChat Pay's front-end coupon and payscore forms are signed with it
// (HMAC-SHA256), and the simulated client checks them with it.
const APIv2KeyFile = "apiv2_key.txt"

// APIv2KeySize is the length of an APIv2 key.
const APIv2KeySize = 32

// loadAPIv2Key reads the APIv2 key file when the set has one; a set
// written before the sandbox made APIv2 keys has none, and keeps
// APIv2Key "".
func (c *Credentials) loadAPIv2Key() error {
	return c.readKeyFile(&c.Files.APIv2Key, APIv2KeyFile, &c.APIv2Key, func(key string) error {
		if len(key) != APIv2KeySize || strings.Trim(key, nonceSymbols) != "" {
			return fmt.Errorf("the APIv2 key must be %d letters and digits", APIv2KeySize)
		}
		return nil
	})
}

// readKeyFile reads the key file *file names (fallback when it names none)
// into *key, checked by check; a missing file leaves both alone (a set
// written before the sandbox made that key). Errors name the file.
func (c *Credentials) readKeyFile(file *string, fallback string, key *string, check func(string) error) error {
	name := *file
	if name == "" {
		name = fallback
	}
	raw, err := os.ReadFile(c.Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	v := strings.TrimSpace(string(raw))
	if err := check(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*key, *file = v, name
	return nil
}

// EnsureAPIv2Key gives a set written before the sandbox made APIv2 keys a
// fresh one, in APIv2KeyFile (mode 0600); a set that has one is left alone.
func (c *Credentials) EnsureAPIv2Key() error {
	if c.APIv2Key != "" {
		return nil
	}
	key := randomNonce(APIv2KeySize)
	if err := writeFile(c.Path(APIv2KeyFile), []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("sandbox credentials: %w", err)
	}
	c.APIv2Key, c.Files.APIv2Key = key, APIv2KeyFile
	return nil
}
