package wechatpay

// builtinRules are the endpoints whose sensitive request fields the module
// encrypts with no configuration.
var builtinRules = []EncryptRule{
	{
		// 教育续费通预签约 (school-payment pre-signing):
		// the fields marked data-encrypted=by-rsa-pubkey on its reference page.
		Method: "POST",
		Path:   "/v3/eduschoolpay/contracts/presign",
		Fields: []string{
			"identity.real_name",
			"identity.credential_type",
			"identity.id_card_number",
			"bank_card.bank_card_no",
			"bank_card.phone",
		},
	},
}
