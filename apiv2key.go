package wechatpay

import (
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv2sign"
)

// The APIv2 key (API密钥) signs the front-end forms WeChat Pay still defines
// with it (coupon plugin, H5 coupon URL, payscore detail; see
// frontend_sign.go). It is accepted only as a placeholder, so that the key
// itself is never in the JSON configuration Caddy's admin API serves.

// apiv2KeyOption is the option's name, in errors.
const apiv2KeyOption = "apiv2_key"

// checkAPIv2Placeholder refuses an apiv2_key that is not one {env.X} or
// {file./path} placeholder. The error never quotes the value: a key written
// literally by mistake must not reach a log.
func checkAPIv2Placeholder(raw string) error {
	inner, ok := strings.CutPrefix(raw, "{")
	ok = ok && strings.HasSuffix(inner, "}") && strings.Count(raw, "{") == 1 && strings.Count(raw, "}") == 1
	name := strings.TrimSuffix(inner, "}")
	if !ok || !(strings.HasPrefix(name, "env.") && len(name) > len("env.") || strings.HasPrefix(name, "file.") && len(name) > len("file.")) {
		return errors.New(apiv2KeyOption + " must be a placeholder, {env.NAME} or {file./path}, never the key itself (Caddy's admin API serves the JSON configuration)")
	}
	return nil
}

// loadAPIv2Key resolves and checks apiv2_key; nil when none is configured.
// The key is a secret: never log it.
func loadAPIv2Key(logger *zap.Logger, raw string) ([]byte, error) {
	if raw == "" {
		return nil, nil
	}
	if err := checkAPIv2Placeholder(raw); err != nil {
		return nil, err
	}
	v, err := resolvePlaceholder(apiv2KeyOption, raw)
	if err != nil {
		return nil, err
	}
	if v == "" {
		return nil, fmt.Errorf("%s resolved to nothing: is the environment variable or file there?", apiv2KeyOption)
	}
	if err := apiv2sign.CheckKey([]byte(v)); err != nil {
		return nil, fmt.Errorf("%s %w", apiv2KeyOption, err)
	}
	warnIfExposed(logger, apiv2KeyOption, raw, "")
	return []byte(v), nil
}
