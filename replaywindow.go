package wechatpay

import (
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/apiv3"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/replay"
)

// replayWindow remembers every signature this Caddy instance accepted
// (serial, timestamp, nonce) while its timestamp is still accepted, so that
// a recorded response or callback played again is refused
// (SIGNATURE_REPLAYED). It is one per process, shared by both handlers and
// by every configuration, since it must outlive a configuration reload;
// another instance of a cluster does not see it (docs/replay.md). It holds
// at most replay.DefaultMaxEntries signatures (about 22 MiB) and, full,
// refuses new ones (REPLAY_WINDOW_FULL) rather than forget live ones.
var replayWindow = replay.New(replay.Config{Window: apiv3.MaxResponseSkew})
