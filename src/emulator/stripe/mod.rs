//! An emulator of the Stripe API parts the checkout uses.
