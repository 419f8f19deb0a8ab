// Package pemkey reads the keys a merchant is given: the merchant API
// private key (PKCS #8 or PKCS #1) and certificate, the WeChat Pay public
// key and platform certificates, each as PEM text or the path of a PEM
// file. Every key is RSA of at least 2048 bits, and no error ever quotes
// the value it read, since it may be a key.
package pemkey
