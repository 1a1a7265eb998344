"""Signed webhooks: department and street systems are told, not just asked. Nothing heavy is
imported here, so ``huying.client`` can use the signing module on its own."""
