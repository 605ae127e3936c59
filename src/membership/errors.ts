// The errors membership answers an operator (or a start) with: a stable code each, which the
// HTTP layer maps to a status and the CLI prints. Operating errors, never assertions.

export type MembershipErrorCode =
  | 'MEMBER_EXISTS'
  | 'ADDRESS_IN_USE'
  | 'UNKNOWN_MEMBER'
  | 'TOO_FEW_NODES'
  | 'TOO_MANY_MEMBERS' // the table already holds MEMBERS_MAX records
  | 'BAD_MEMBER'
  | 'COUNT_LIMIT' // the id's operator epoch reached MEMBERSHIP_COUNT_MAX: add the node under a new id
  | 'NOT_A_MEMBER' // this node is not a ring member itself: its changes would not spread, make them through a member
  | 'CORRUPT_TABLE'; // the persisted table does not parse: the node does not start

export class MembershipError extends Error {
  constructor(
    readonly code: MembershipErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MembershipError';
  }
}
