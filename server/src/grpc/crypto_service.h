// gRPC service heavylift.v1.CryptoService: each method names its crypto.*
// task and the TaskCallDispatcher does the rest.
#pragma once

#include "grpc/task_call.h"
#include "heavylift/v1/crypto.grpc.pb.h"

namespace heavylift {

// Defines one unary method that runs `task`.
#define HEAVYLIFT_CRYPTO_METHOD(Method, task)                                                        \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, const v1::Method##Request* request, \
                                   v1::Method##Response* response) override {                             \
    return dispatcher_.dispatch(context, task, request, response);                                        \
  }

class CryptoServiceImpl final : public v1::CryptoService::CallbackService {
 public:
  explicit CryptoServiceImpl(TaskCallDispatcher& dispatcher) : dispatcher_(dispatcher) {}

  HEAVYLIFT_CRYPTO_METHOD(Argon2idHash, "crypto.argon2id.hash")
  HEAVYLIFT_CRYPTO_METHOD(Argon2idVerify, "crypto.argon2id.verify")
  HEAVYLIFT_CRYPTO_METHOD(BcryptHash, "crypto.bcrypt.hash")
  HEAVYLIFT_CRYPTO_METHOD(BcryptVerify, "crypto.bcrypt.verify")
  HEAVYLIFT_CRYPTO_METHOD(PasswordHash, "crypto.password.hash")
  HEAVYLIFT_CRYPTO_METHOD(PasswordVerify, "crypto.password.verify")
  HEAVYLIFT_CRYPTO_METHOD(PasswordNeedsRehash, "crypto.password.needs_rehash")
  HEAVYLIFT_CRYPTO_METHOD(PasswordHashBatch, "crypto.password.hash_batch")
  HEAVYLIFT_CRYPTO_METHOD(PasswordVerifyBatch, "crypto.password.verify_batch")
  HEAVYLIFT_CRYPTO_METHOD(AeadEncrypt, "crypto.aead.encrypt")
  HEAVYLIFT_CRYPTO_METHOD(AeadDecrypt, "crypto.aead.decrypt")
  HEAVYLIFT_CRYPTO_METHOD(Hash, "crypto.hash")
  HEAVYLIFT_CRYPTO_METHOD(Hmac, "crypto.hmac")
  HEAVYLIFT_CRYPTO_METHOD(Hkdf, "crypto.hkdf")
  HEAVYLIFT_CRYPTO_METHOD(Compare, "crypto.compare")
  HEAVYLIFT_CRYPTO_METHOD(KeyGenerate, "crypto.keygen")
  HEAVYLIFT_CRYPTO_METHOD(Sign, "crypto.sign")
  HEAVYLIFT_CRYPTO_METHOD(Verify, "crypto.verify")
  HEAVYLIFT_CRYPTO_METHOD(SignBatch, "crypto.sign_batch")
  HEAVYLIFT_CRYPTO_METHOD(VerifyBatch, "crypto.verify_batch")
  HEAVYLIFT_CRYPTO_METHOD(JwtSign, "crypto.jwt.sign")
  HEAVYLIFT_CRYPTO_METHOD(JwtVerify, "crypto.jwt.verify")
  HEAVYLIFT_CRYPTO_METHOD(Random, "crypto.random")

 private:
  TaskCallDispatcher& dispatcher_;
};

#undef HEAVYLIFT_CRYPTO_METHOD

}  // namespace heavylift
