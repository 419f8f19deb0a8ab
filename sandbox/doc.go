// Package sandbox is a local stand-in for api.mch.weixin.qq.com, the WeChat Pay
// APIv3 server, for demos and tests of the caddy-wechatpay proxy.
//
// It is written independently of the proxy's own signing and encryption code
// (it never imports the root package) and its non-test files use only the Go
// standard library and github.com/tidwall/gjson, so it can serve as a second,
// independent implementation of the protocol.
//
// The pieces:
//
//   - [GenerateCredentials] / [LoadCredentials] write and read a throwaway set
//     of merchant and WeChat Pay keys, named as WeChat Pay names them.
//   - [New] builds a [Server], an [net/http.Handler] that checks the
//     Authorization header (WECHATPAY2-SHA256-RSA2048), the Wechatpay-Serial
//     header and the RSA-OAEP sensitive fields listed in the embedded
//     catalog ([Endpoints]), then answers signed JSON as WeChat Pay does.
//     For a multipart/form-data request (the media uploads) the body line
//     of the signed message is the content of the form's one "meta" part,
//     as WeChat Pay signs it, not the multipart body; a body that does not
//     parse to its closing delimiter, or has no or several meta parts, is
//     refused with 400 PARAM_ERROR before the signature is checked.
//   - [Config.Observer] receives an [Exchange] per request describing what
//     arrived, what was verified and decrypted, and what was answered.
//   - [Faults] makes answers misbehave (wrong key, stale timestamp, unknown
//     serial, probe signature, no signature, gzip) so a proxy's response
//     verification can be tested.
//
// Routing, in order:
//
//   - POST /sandbox/client/request-payment ([ClientRequestPaymentPath]) is
//     the simulated WeChat client, not a WeChat Pay API: it needs no
//     Authorization or User-Agent. It takes the invocation object a front
//     end passes to wx.requestPayment / getBrandWCPayRequest ({"appId",
//     "timeStamp", "nonceStr", "package": "prepay_id=...", "signType":
//     "RSA", "paySign"}; a "prepay_id" beside them, as the official Go
//     SDK's object has, must match package) or to the OpenSDK's PayReq
//     ({"appid", "partnerid", "prepayid", "package": "Sign=WXPay",
//     "noncestr", "timestamp", "sign"}), told apart by paySign / sign. Every
//     key present with its exact spelling, a non-empty string, no other key;
//     nonce 1 to 32 characters of [0-9A-Za-z]; timestamp unix seconds within
//     [PaymentTimestampWindow] of the sandbox clock; the signature verified
//     with the merchant certificate over appId\ntimeStamp\nnonceStr\npackage\n
//     (APP: appid\ntimestamp\nnoncestr\nprepayid\n); the prepay_id one the
//     sandbox issued, of the form's trade type, not expired, for that
//     appid (and, APP, that partnerid). It answers 200 {"result": "OK",
//     "prepay_id": "..."} or 400 {"code", "message", "detail": {"field",
//     "issue"}} with the first problem's code (PaymentParamError ...
//     PaymentPartnerIDMismatch); these answers are the sandbox's own and
//     unsigned. Its [Exchange] carries an [Invocation] with the verdict;
//   - POST /sandbox/eduschoolpay/contracts/sign ([ContractSignPath]) is the
//     simulated 校园轻松付 signing mini program, not a WeChat Pay API either:
//     {"presign_token", "openid"} signs the contract a presign stands for
//     (token known, unexpired, unused; openid the presign's user) and
//     answers it, unsigned;
//   - every other request must carry a User-Agent and a valid Authorization
//     header (401 SIGN_ERROR / 400 PARAM_ERROR otherwise), whatever its path;
//   - GET /v3/bill/tradebill, /v3/bill/fundflowbill and
//     /v3/bill/sub-merchant-fundflowbill answer the SHA1 and download URL of a
//     bill generated for bill_date (gzip with tar_type=GZIP; the sub-merchant
//     one AES-256-GCM encrypted, encrypt_key RSA-OAEP for the merchant
//     certificate); GET /v3/billdownload/file serves it unsigned for 5
//     minutes (one byte changed with [Faults].CorruptBill), and a sample
//     bill for any other token;
//   - GET /v3/certificates lists the platform certificates in service, each
//     AES-256-GCM encrypted under the APIv3 key ([Server.SetAPIv3Key]),
//     signed with a platform certificate unless Wechatpay-Serial names a
//     key; 404 RESOURCE_NOT_EXISTS without a platform certificate or with
//     [Server.SetPublicKeyOnly] (then signed with the public key, as for a
//     merchant on the public key). [Server.RotatePlatformCertificate] and
//     [Server.RetirePlatformCertificate] play WeChat Pay's rotation;
//   - POST /v3/eduschoolpay/contracts/presign checks the documented required
//     fields and answers {"presign_token": "..."}, remembered for
//     [PresignTokenLifetime];
//   - the rest of the 校园轻松付 day, stateful per merchant: the contract
//     query ([ContractQueryPath]), the user's contract list
//     ([UserContractsPath]), termination ([ContractTerminatePath]), 扣款
//     ([EduTransactionsPath], which needs a signed contract of the same
//     appid and user_id), the order queries ([EduOrderByOutTradeNoPath],
//     [EduOrderByIDPath]), refunds ([RefundPath], of a paid order, at most
//     what is left of it) and the refund query ([RefundQueryPath]);
//   - POST /v3/merchant/media/upload ([MediaUploadPath], images: jpg, jpeg,
//     bmp, png, at most [MaxImageBytes]) and POST
//     /v3/merchant/media/video_upload ([VideoUploadPath], videos: avi, wmv,
//     mpeg, mp4, mov, mkv, flv, f4v, m4v, rmvb, at most [MaxVideoBytes])
//     take multipart/form-data: a meta part holding {"filename", "sha256"}
//     and one file part whose hex SHA-256 must equal meta.sha256 and whose
//     extension (of meta.filename) and size must suit the endpoint; they
//     answer {"media_id": "..."}, signed. Each failed check is a 400
//     PARAM_ERROR naming the field. Any other endpoint refuses a
//     multipart/form-data body (400 PARAM_ERROR), and the upload endpoints
//     refuse any other body;
//   - the prepay endpoints POST /v3/pay/transactions/jsapi and .../app,
//     /v3/pay/partner/transactions/jsapi and .../app,
//     /v3/combine-transactions/jsapi and .../app ([JSAPIPrepayPath] ...
//     [CombineAppPrepayPath]) check the fields the official SDK's request
//     structs (and, for combine, WeChat Pay's reference) require, with
//     their types (amount.total an integer > 0, strings non-empty): 400
//     PARAM_ERROR naming the first missing or wrong field; then that mchid
//     / sp_mchid / combine_mchid is the caller (400 PARAM_ERROR otherwise).
//     They answer {"prepay_id": "wx..."} (wx, the time in China, 20 hex
//     digits), signed, and remember it for [PrepayIDLifetime] with the
//     appid its invocation must carry (appid; partner: sub_appid for a
//     payer.sub_openid, or, APP, whenever given, else sp_appid; combine:
//     combine_appid) and, APP, the partnerid (mchid, sub_mchid,
//     combine_mchid); at most [MaxPrepayIDs], the oldest forgotten first.
//     Cataloged (payer.identity is sensitive), they need Wechatpay-Serial;
//   - POST /v3/pay/transactions/native (not sensitive, not cataloged) answers
//     {"code_url": "weixin://..."} so a plain signed pass-through can be tried;
//   - any other cataloged endpoint answers 200 with the path parameters and,
//     at each response_body path, a value encrypted for the merchant
//     certificate (see [SampleResponsePlaintext]);
//   - any other documented endpoint (internal/reference's
//     wechatpay-endpoints.json) answers a signed 404 [NotSimulatedCode]
//     naming it, so that a right URL is not mistaken for a wrong one;
//   - anything else answers a signed 404 NOT_FOUND, WeChat Pay's words for
//     a wrong URL.
//
// [Merchants] serves several Servers, one per merchant, from one handler:
// each request goes to the merchant its Authorization names
// ([LoadCredentialSets] reads the sets of one directory).
//
// Everything here is for testing only: the keys it generates are throwaway
// keys and must never be used in production.
package sandbox
