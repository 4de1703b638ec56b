//! The one internal, version-neutral checkout model.
//!
//! - `session.rs`: the stored session (`Session`, lines, fulfillment options,
//!   totals, links, order), serde-serialisable so the service can keep it in
//!   sled as JSON.
//! - `message.rs`: buyer-facing messages and their version-neutral targets.
//! - `request.rs`: what the agent asked for (create, update, complete,
//!   cancel), as the adapters parse it from either wire version.
//!
//! Nothing here knows a wire shape or a JSONPath. Codes carry their ACP
//! names (`as_str`), but which of them a version accepts, and how each
//! version spells fields, statuses and links, belongs to the adapters under
//! [`super::wire`]. Nothing here prices, validates business rules or moves
//! state: the session service does.

mod message;
mod request;
mod session;

pub use message::{
    AddressField, ErrorCode, Message, MessageKind, MessageTarget, Resolution, WarningCode,
};
pub use request::{
    AuthenticationDetails, AuthenticationOutcome, AuthenticationResult, CancelReason,
    CancelSession, CompleteSession, CreateSession, FulfillmentSelection, IntentTrace, Patch,
    PaymentCredential, PaymentData, PurchaseOrder, RequestedLine, RequestedQuantity, UpdateSession,
};
pub use session::{
    AgentCapabilities, AppliedDiscount, AuthenticationMetadata, DirectoryServer, DiscountRejection,
    Discounts, FlowPreference, FulfillmentContact, FulfillmentKind, FulfillmentOption,
    InterventionType, LineAvailability, Link, LinkKind, OrderRef, RejectedDiscount, Session,
    SessionLine, SessionStatus, StockStatus, Totals,
};
