"""The portal's two languages: English and Simplified Chinese.

The language is the ``lang`` cookie if the client chose one with the switch, else the best
match in Accept-Language, else English. Level, category and purpose names come from the
catalogue (which carries both languages); everything else is in ``MESSAGES``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "MESSAGES",
    "Translator",
    "format_time",
    "negotiate",
    "translator",
]

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"

Translator = Callable[..., str]

# key: (English, 简体中文). Placeholders use str.format names.
MESSAGES: dict[str, tuple[str, str]] = {
    # frame
    "brand_tagline": ("Client consent portal", "客户授权门户"),
    "skip": ("Skip to content", "跳到正文"),
    "nav_label": ("Main", "主导航"),
    "nav_consent": ("My consent", "我的授权"),
    "nav_trail": ("Who used my data", "谁使用了我的数据"),
    "nav_receipt": ("Receipt", "授权凭证"),
    "nav_erasure": ("Erasure", "删除数据"),
    "sign_out": ("Sign out", "退出登录"),
    "switch_to": ("中文", "English"),
    "switch_label": ("切换到中文", "Switch to English"),
    "signed_in_as": ("Signed in as {name}", "当前用户：{name}"),
    "footer": (
        "Custos Wealth Partners. Every change to your consent and every use of your data is "
        "recorded on a tamper-evident ledger.",
        "Custos 财富管理。您的每一次授权变更和每一次数据使用都记录在防篡改账本上。",
    ),
    # sign in
    "signin_title": ("Sign in", "登录"),
    "signin_lead": (
        "Decide who at the firm may use your data, and for what.",
        "决定公司内谁可以使用您的数据，以及用于什么目的。",
    ),
    "username": ("Username", "用户名"),
    "password": ("Password", "密码"),
    "signin_button": ("Sign in", "登录"),
    "signin_failed": ("The username or password is not correct.", "用户名或密码不正确。"),
    "signin_limited": (
        "Too many attempts. To protect your account, please wait {seconds} seconds and try "
        "again.",
        "尝试次数过多。为保护您的账户，请等待 {seconds} 秒后再试。",
    ),
    "signin_missing": ("Enter your username and password.", "请输入用户名和密码。"),
    "signin_again": ("Please sign in to continue.", "请登录后继续。"),
    "signed_out": ("You have signed out.", "您已安全退出。"),
    "signin_note": (
        "We never ask for your password by email or phone.",
        "我们绝不会通过邮件或电话索取您的密码。",
    ),
    "csrf_title": ("This form has expired", "此表单已失效"),
    "csrf_failed": (
        "The form has expired or did not come from this site, so nothing was changed. "
        "Please go back, reload the page and try again.",
        "表单已失效或并非来自本网站，因此未做任何更改。请返回并刷新页面后重试。",
    ),
    "back": ("Back to the portal", "返回门户"),
    # consent
    "consent_title": ("My consent", "我的授权"),
    "consent_lead": (
        "Choose which of your data the firm may use, and for what. You can change or withdraw "
        "your consent at any time, and every change takes effect at once.",
        "选择公司可以使用您的哪些数据以及用于什么目的。您可以随时更改或撤回授权，任何更改都会立即生效。",
    ),
    "status_heading": ("In force now", "当前生效的授权"),
    "status_none": (
        "You have no consent in force, so no department may use your data.",
        "您目前没有生效的授权，任何部门都不能使用您的数据。",
    ),
    "level_n": ("Level {n}", "第 {n} 级"),
    "status_since": ("Given on {date}", "授权时间：{date}"),
    "status_until": ("Ends by itself on {date}", "将于 {date} 自动到期"),
    "status_no_end": ("Lasts until you withdraw it", "持续有效，直到您撤回"),
    "status_uses": ("Uses switched on", "已开启的用途"),
    "levels_heading": ("1. How much may the firm see?", "1. 公司可以查看多少信息？"),
    "levels_lead": (
        "Four levels, each including the ones below it. Choose the one that fits how closely "
        "you work with your adviser.",
        "共四个级别，每一级都包含其下各级。请选择与您和顾问合作深度相符的级别。",
    ),
    "level_examples": ("For example", "例如"),
    "level_yours": ("Your level", "您的级别"),
    "level_included": ("Included", "已包含"),
    "purposes_heading": ("2. What may it be used for?", "2. 可以用于什么用途？"),
    "purposes_lead": (
        "A department may use your data only for the uses you switch on here.",
        "部门只能将您的数据用于您在此开启的用途。",
    ),
    "marketing_heading": ("Marketing is a separate choice", "营销是单独的选择"),
    "marketing_note": (
        "No other choice implies it, and it never sees more than your basic information.",
        "其他任何选择都不包含营销，且营销最多只能使用您的基本信息。",
    ),
    "switch_on": ("On", "开"),
    "duration_heading": ("3. For how long?", "3. 有效期多长？"),
    "duration_lead": (
        "When the time is up the consent ends by itself, and nothing more is used.",
        "到期后授权自动终止，不再使用任何数据。",
    ),
    "duration_keep": ("Keep the current end date", "保持当前到期日"),
    "duration_none": ("Until I withdraw it", "直到我撤回为止"),
    "duration_3m": ("3 months", "3 个月"),
    "duration_6m": ("6 months", "6 个月"),
    "duration_1y": ("1 year", "1 年"),
    "duration_2y": ("2 years", "2 年"),
    "review_button": ("Review the change", "查看变更"),
    "withdraw_heading": ("Withdraw everything", "全部撤回"),
    "withdraw_lead": (
        "Withdrawing is as easy as granting. From the moment you confirm, no department may "
        "use your data for any purpose.",
        "撤回与授权同样简单。一经确认，任何部门都不能再将您的数据用于任何用途。",
    ),
    "withdraw_button": ("Withdraw all consent", "撤回全部授权"),
    "done": (
        "Done. The change is in force now and is recorded on the ledger as entry #{index}.",
        "已完成。变更已立即生效，并已记录为账本第 {index} 条。",
    ),
    "conflict": (
        "Your consent changed in the meantime, so nothing was changed. Please review again.",
        "您的授权在此期间已发生变化，因此未做更改。请重新查看。",
    ),
    # review
    "review_title": ("Please confirm the change", "请确认变更"),
    "review_lead": (
        "This is exactly what will change. Nothing changes until you confirm.",
        "以下是将要发生的全部变更。确认之前不会有任何改变。",
    ),
    "change_grant": ("You give consent at level {n}: {name}.", "您授予第 {n} 级授权：{name}。"),
    "change_up": ("Your level goes up from {old} to {new}.", "您的级别从 {old} 升至 {new}。"),
    "change_down": ("Your level goes down from {old} to {new}.", "您的级别从 {old} 降至 {new}。"),
    "change_same_level": ("Your level stays at {name}.", "您的级别保持为 {name}。"),
    "newly_shared": ("The firm may newly use", "公司将新增可使用"),
    "no_longer_shared": ("The firm may no longer use", "公司将不再可使用"),
    "uses_on": ("Uses switched on", "开启的用途"),
    "uses_off": ("Uses switched off", "关闭的用途"),
    "uses_all": ("Uses", "用途"),
    "expiry_on": ("It ends by itself on {date}.", "它将于 {date} 自动终止。"),
    "expiry_never": ("It lasts until you withdraw it.", "它将持续有效，直到您撤回。"),
    "expiry_kept": ("The end date does not change.", "到期日不变。"),
    "expiry_needs_level": (
        "A new end date is set only together with a new level or a new consent, so your "
        "current end date stays.",
        "新的到期日只能在更改级别或重新授权时设定，因此您当前的到期日保持不变。",
    ),
    "revoke_all": (
        "You withdraw all consent. From now on no department may use any of your data for "
        "any purpose.",
        "您将撤回全部授权。从现在起，任何部门都不能将您的任何数据用于任何用途。",
    ),
    "nothing_to_change": (
        "Nothing to change: your consent already says this.",
        "无需更改：您的授权已经如此。",
    ),
    "need_purpose": (
        "Switch on at least one use, or withdraw everything instead.",
        "请至少开启一项用途，或选择全部撤回。",
    ),
    "need_level": ("Choose a level.", "请选择一个级别。"),
    "marketing_capped": (
        "Marketing only ever uses your basic information, whatever your level.",
        "无论您的级别如何，营销只使用您的基本信息。",
    ),
    "effective_now": (
        "The change takes effect the moment you confirm and is recorded on the ledger.",
        "变更在您确认的那一刻生效，并记录在账本上。",
    ),
    "confirm_button": ("Confirm the change", "确认变更"),
    "confirm_withdraw": ("Yes, withdraw all consent", "是的，撤回全部授权"),
    "cancel": ("Cancel", "取消"),
    # trail
    "trail_title": ("Who used my data", "谁使用了我的数据"),
    "trail_lead": (
        "Every request for your data, every use of it and every change to your consent is an "
        "entry on the firm's tamper-evident ledger.",
        "每一次对您数据的请求、每一次使用以及每一次授权变更，都是公司防篡改账本上的一条记录。",
    ),
    "trail_verify_lead": (
        "Press Verify on any entry: your own browser checks the entry's inclusion proof "
        "against the ledger's signed checkpoint, so you need not take our word for it.",
        "点击任意记录的“验证”：由您自己的浏览器根据账本的签名检查点校验该记录的包含证明，无需相信我们的一面之词。",
    ),
    "filter_heading": ("Filter", "筛选"),
    "filter_department": ("Department", "部门"),
    "filter_purpose": ("Purpose", "用途"),
    "filter_category": ("Data", "数据类别"),
    "filter_outcome": ("Outcome", "结果"),
    "filter_any": ("Any", "全部"),
    "filter_apply": ("Apply", "应用"),
    "filter_clear": ("Clear", "清除"),
    "col_when": ("When", "时间"),
    "col_event": ("What happened", "事件"),
    "col_who": ("Who", "部门"),
    "col_data": ("Data", "数据"),
    "col_purpose": ("Purpose", "用途"),
    "col_outcome": ("Outcome", "结果"),
    "col_entry": ("Ledger entry", "账本条目"),
    "outcome_allow": ("Allowed", "已允许"),
    "outcome_deny": ("Denied", "已拒绝"),
    "outcome_not_applicable": ("Not applicable", "不适用"),
    "you": ("You", "您本人"),
    "trail_empty": ("No entries match.", "没有符合条件的记录。"),
    "trail_count": ("{n} entries", "共 {n} 条"),
    "older": ("Older entries", "更早的记录"),
    "newer": ("Newer entries", "较新的记录"),
    "verify": ("Verify", "验证"),
    "verify_proof": ("Proof", "证明"),
    "verify_busy": ("Checking…", "正在验证…"),
    "verify_ok": (
        "Verified in your browser: this entry is in the ledger signed at size {size}.",
        "已在您的浏览器中验证：此记录包含于规模为 {size} 的已签名账本中。",
    ),
    "verify_fail": ("Verification failed: {reason}", "验证失败：{reason}"),
    "why_fetch": ("the proof could not be fetched.", "无法获取证明。"),
    "why_entry": ("the entry does not match its ledger index.", "记录与其账本序号不符。"),
    "why_path": (
        "the inclusion proof does not lead to the signed root.",
        "包含证明无法推导出已签名的根哈希。",
    ),
    "why_key": ("the checkpoint was not signed by the ledger's key.", "检查点并非由账本密钥签名。"),
    "why_signature": ("the checkpoint signature is not valid.", "检查点签名无效。"),
    "why_unsupported": (
        "this browser cannot check Ed25519 signatures.",
        "此浏览器无法校验 Ed25519 签名。",
    ),
    # receipt
    "receipt_title": ("Consent receipt", "授权凭证"),
    "receipt_lead": (
        "A signed record of what you have agreed to, in the Kantara Consent Receipt format "
        "(on which ISO/IEC TS 27560 builds). Anyone can check its signature against the "
        "firm's published key.",
        "这是您所同意内容的签名记录，采用 Kantara 授权凭证格式（ISO/IEC TS 27560 以此为基础）。"
        "任何人都可以用公司公布的公钥校验其签名。",
    ),
    "receipt_none": (
        "You have no consent in force, so there is no receipt to give.",
        "您目前没有生效的授权，因此没有可出具的凭证。",
    ),
    "receipt_download": ("Download signed receipt (JSON)", "下载签名凭证（JSON）"),
    "receipt_print": ("Print", "打印"),
    "receipt_verify": ("Verify signature", "验证签名"),
    "receipt_issued_note": (
        "Each receipt is issued and signed when you ask for it.",
        "每份凭证在您请求时出具并签名。",
    ),
    "r_id": ("Receipt ID", "凭证编号"),
    "r_issued": ("Issued", "出具时间"),
    "r_version": ("Format", "格式"),
    "r_controller": ("Data controller", "数据控制者"),
    "r_contact": ("Contact", "联系方式"),
    "r_principal": ("Your pseudonymous ID", "您的化名编号"),
    "r_level": ("Authorization level", "授权级别"),
    "r_consented": ("Consent given", "授权时间"),
    "r_jurisdiction": ("Jurisdiction", "司法管辖区"),
    "r_method": ("Collected through", "收集方式"),
    "r_sensitive": ("Includes sensitive data", "包含敏感数据"),
    "r_ledger": ("Ledger entry", "账本条目"),
    "r_purposes": ("Purposes and data", "用途与数据"),
    "r_purpose": ("Purpose", "用途"),
    "r_categories": ("Data categories", "数据类别"),
    "r_termination": ("Ends", "终止条件"),
    "r_third_party": ("Shared with third parties", "向第三方披露"),
    "r_signature": ("Signature", "签名"),
    "r_key": ("Signing key", "签名密钥"),
    "yes": ("Yes", "是"),
    "no": ("No", "否"),
    "sig_ok": (
        "Signature valid: checked in your browser against the key named in the receipt.",
        "签名有效：已在您的浏览器中用凭证所载密钥校验。",
    ),
    "sig_fail": (
        "Signature not valid: this receipt was altered or not signed by that key.",
        "签名无效：此凭证已被改动，或并非由该密钥签名。",
    ),
    # erasure
    "erasure_title": ("Erase my data", "删除我的数据"),
    "erasure_lead": (
        "You can ask us to erase your personal data. It happens at once and cannot be undone.",
        "您可以要求我们删除您的个人数据。删除立即执行，且无法撤销。",
    ),
    "destroyed_heading": ("What is destroyed", "将被销毁的内容"),
    "destroyed_key": (
        "The encryption key that protects your personal data. Without it, what we stored can "
        "never be read again, including in backups.",
        "保护您个人数据的加密密钥。没有它，我们存储的数据将永远无法读取，备份中的也一样。",
    ),
    "destroyed_values": (
        "Your stored personal values: name, contact details, ID number, and your financial and "
        "family information.",
        "您存储的个人信息：姓名、联系方式、证件号码，以及财务和家庭信息。",
    ),
    "destroyed_consent": (
        "Your consent: no department may use your data from then on.",
        "您的授权：此后任何部门都不能使用您的数据。",
    ),
    "destroyed_login": ("Your portal sign-in and access tokens.", "您的门户登录和访问令牌。"),
    "kept_heading": ("What is kept, and why", "将保留的内容及原因"),
    "kept_ledger": (
        "The ledger entries about you. They hold no personal values: only your pseudonymous ID, "
        "levels, the names of data categories and purposes, departments and times. The ledger "
        "must stay whole so that auditors can verify it.",
        "与您相关的账本记录。它们不含任何个人信息，只有您的化名编号、级别、数据类别和用途的名称、部门及时间。"
        "账本必须保持完整，审计方才能对其进行校验。",
    ),
    "kept_erasure": (
        "A new ledger entry recording the erasure itself.",
        "一条记录此次删除操作本身的新账本记录。",
    ),
    "erasure_understand": (
        "I understand that this erases my personal data for good and signs me out.",
        "我明白此操作将永久删除我的个人数据，并将退出登录。",
    ),
    "erasure_button": ("Erase my data", "删除我的数据"),
    "erasure_tick": ("Tick the box to confirm.", "请勾选方框以确认。"),
    "erased_title": ("Your data has been erased", "您的数据已删除"),
    "erased_body": (
        "Your key and personal values are destroyed, your consent has ended and you have been "
        "signed out. The erasure is recorded on the ledger as entry #{index}.",
        "您的密钥和个人信息已被销毁，授权已终止，您也已退出登录。此次删除已记录为账本第 {index} 条。",
    ),
    # ledger event types
    "ev_client_registered": ("Became a client", "成为客户"),
    "ev_data_collected": ("Data collected", "收集数据"),
    "ev_access_allowed": ("Access request", "访问请求"),
    "ev_access_denied": ("Access request", "访问请求"),
    "ev_access_not_applicable": ("Access request", "访问请求"),
    "ev_data_accessed": ("Data read", "读取数据"),
    "ev_data_used": ("Data used", "使用数据"),
    "ev_consent_granted": ("Consent given", "授予授权"),
    "ev_consent_upgraded": ("Consent upgraded", "授权升级"),
    "ev_consent_downgraded": ("Consent downgraded", "授权降级"),
    "ev_consent_purposes_changed": ("Uses changed", "用途变更"),
    "ev_consent_revoked": ("Consent withdrawn", "撤回授权"),
    "ev_consent_expired": ("Consent expired", "授权到期"),
    "ev_data_erased": ("Data erased", "数据已删除"),
    "ev_proof_verified": ("Proof checked", "证明已校验"),
    # departments
    "dept_compliance": ("Compliance", "合规部"),
    "dept_advisory": ("Advisory", "投资顾问部"),
    "dept_risk": ("Risk", "风险管理部"),
    "dept_research": ("Research", "研究部"),
}

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def translator(lang: str) -> Translator:
    """``t(key, **values)`` in ``lang``; an unknown key shows itself, so a gap is visible."""
    column = 1 if lang == "zh" else 0

    def t(key: str, **values: object) -> str:
        pair = MESSAGES.get(key)
        if pair is None:
            return key
        text = pair[column]
        return text.format(**values) if values else text

    return t


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The chosen language: the ``lang`` cookie, else the best Accept-Language match."""
    if cookie in LANGUAGES:
        return str(cookie)
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # Earlier tags win ties, as the header lists preferences in order.
        q -= position * 1e-6
        if q > best_q:
            best, best_q = primary, q
    return best


def format_time(value: str | datetime | None, lang: str) -> str:
    """A time for people: '1 Jun 2026, 09:00 UTC' or '2026年6月1日 09:00 UTC'."""
    if value is None:
        return ""
    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    if lang == "zh":
        return f"{t.year}年{t.month}月{t.day}日 {t.hour:02d}:{t.minute:02d} UTC"
    return f"{t.day} {_MONTHS[t.month - 1]} {t.year}, {t.hour:02d}:{t.minute:02d} UTC"
