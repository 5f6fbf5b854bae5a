import { jsonItem, type FulfilledItem } from './decision-json.js';
import { planAssign, planReadOnly, type AssignPlan, type AssignTarget, type UserInfo } from './corrections.js';

/** What `assign` would write for a payment and a user, without writing: the console shows it before a person confirms. */
export type AssignPreview = FulfilledItem & {
  credits: number;
  user: UserInfo;
  creditSource: Extract<AssignPlan, { reassign: false }>['creditSource'];
};

type Target = Omit<AssignTarget, 'credits' | 'reassign'>;

/** The plan the confirm would write, on a read-only connection: a refusal of the write is the preview's. */
function readOnlyPlan(o: AssignTarget): Promise<AssignPlan> {
  return planReadOnly(o, (open) => planAssign(open, o));
}

/**
 * assign's own plan (planAssign: every check its write makes). The confirm plans again: a payment
 * credited between preview and confirm is refused there.
 */
export async function previewAssign(o: Target): Promise<AssignPreview> {
  const plan = await readOnlyPlan({ ...o, credits: null, reassign: false });
  if (plan.reassign) throw new Error('a plan without --reassign is a credit');
  const d = plan.decision;
  return { ...jsonItem(d), credits: d.credits, user: plan.user, creditSource: plan.creditSource };
}

/** What `assign --reassign` would write: a reversal for the user who holds the payment, a credit for the new one. */
export interface ReassignPreview {
  paymentKey: string;
  credits: number;
  from: string;
  to: UserInfo;
  /** The new user holds it already: confirming writes nothing. */
  unchanged: boolean;
}

/** assign --reassign's own plan; the confirm plans again, and the write's index refuses a move made meanwhile. */
export async function previewReassign(o: Target): Promise<ReassignPreview> {
  const plan = await readOnlyPlan({ ...o, credits: null, reassign: true });
  if (!plan.reassign) throw new Error('a plan with --reassign is a reassignment');
  const h = plan.holding;
  return {
    paymentKey: h.purchase.payment_key ?? o.payment,
    credits: h.credits,
    from: h.holderUserId,
    to: plan.user,
    unchanged: h.holderUserId === plan.user.id,
  };
}
