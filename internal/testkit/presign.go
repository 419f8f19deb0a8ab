package testkit

// PresignBody is the reference page's request, with the sensitive values in
// plaintext as a legacy app sends them (and an 18-digit plan_id number kept
// as a number to check that number literals survive byte for byte).
const PresignBody = `{
  "appid": "wx8888888888888888",
  "openid": "oUpF8uMuAJOM2pxb1Q",
  "plan_id": "101164396123311331",
  "user_id": "20200330tony",
  "school_id": "18260256813396",
  "out_contract_code": "20190806125346",
  "contract_mode": "LIMIT_BANK_CARD",
  "downgrade_default_contract": true,
  "identity": {
    "real_name": "张三",
    "credential_type": "IDENTITY_CARD",
    "id_card_number": "110101199003071234"
  },
  "bank_card": {
    "bank_card_no": "6222021234567890123",
    "valid_thru": "08/21",
    "phone": "13800138000",
    "bank_type": "CMC"
  },
  "trace": 101164396123311331
}`

// PresignPath is the reference request's endpoint.
const PresignPath = "/v3/eduschoolpay/contracts/presign"

// PresignPlain maps each sensitive path of PresignBody to its plaintext.
var PresignPlain = map[string]string{
	"identity.real_name":       "张三",
	"identity.credential_type": "IDENTITY_CARD",
	"identity.id_card_number":  "110101199003071234",
	"bank_card.bank_card_no":   "6222021234567890123",
	"bank_card.phone":          "13800138000",
}

// PresignFields are the fields marked data-encrypted=by-rsa-pubkey on the
// presign reference page, written out here independently of the catalog.
var PresignFields = []string{
	"identity.real_name",
	"identity.credential_type",
	"identity.id_card_number",
	"bank_card.bank_card_no",
	"bank_card.phone",
}
