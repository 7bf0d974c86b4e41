//! Personal information (个人信息) a responder gives: a real name and a phone number. China's
//! PIPL asks that it be shown only to those who need it (minimum necessary): operators
//! call workers and admins manage them, so they see it whole; every role below
//! `operator` (a wall screen's viewer login, a leader's read-only one) sees it masked as
//! Chinese apps show it: `138****5678`, `张*`.

use super::Role;

/// A responder's real name and phone number, as stored or as someone may see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Real name, if given.
    pub real_name: Option<String>,
    /// Phone number, if given.
    pub phone: Option<String>,
}

impl Contact {
    /// As `role` may see it: whole for `operator` and `admin`, masked below them
    /// ([`mask_real_name`], [`mask_phone`]).
    pub fn seen_by(self, role: Role) -> Contact {
        if sees_whole(role) {
            return self;
        }
        Contact {
            real_name: self.real_name.as_deref().map(mask_real_name),
            phone: self.phone.as_deref().map(mask_phone),
        }
    }
}

/// Whether `role` sees real names and phone numbers whole (operator and above).
pub fn sees_whole(role: Role) -> bool {
    role >= Role::Operator
}

/// Digits a phone number needs for the first 3 and last 4 of them to be shown: with
/// fewer, 4 would not stay hidden (an 11-digit Chinese mobile number has 11).
const LONG_PHONE_DIGITS: usize = 11;

/// A phone number masked digit by digit, one `*` each: the first 3 and last 4 digits kept
/// (`13812345678` → `138****5678`), a shorter number (under 11 digits) all but its last 2
/// (`12345678` → `******78`), one of 1 or 2 digits wholly. A leading `+86` or `0086`
/// (China's country code) is kept and not counted, and spaces, `-` and `+` stay where
/// they are: `+86 138-1234-5678` → `+86 138-****-5678`.
pub fn mask_phone(phone: &str) -> String {
    let rest = phone
        .strip_prefix("+86")
        .or_else(|| phone.strip_prefix("0086"))
        .unwrap_or(phone);
    let prefix = &phone[..phone.len() - rest.len()];
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    let shown = |i: usize| {
        if digits >= LONG_PHONE_DIGITS {
            i < 3 || i >= digits - 4
        } else {
            digits > 2 && i >= digits - 2
        }
    };
    let mut out = String::with_capacity(phone.len());
    out.push_str(prefix);
    let mut i = 0;
    for c in rest.chars() {
        if c.is_ascii_digit() {
            out.push(if shown(i) { c } else { '*' });
            i += 1;
        } else {
            out.push(c);
        }
    }
    out
}

/// A real name masked to its first character and one `*` for each further character:
/// `张三` → `张*`, `欧阳娜娜` → `欧***`, `John Smith` → `J*********`.
pub fn mask_real_name(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().into_iter().chain(chars.map(|_| '*')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mask` turns each `(given, shown)` pair's first into its second.
    fn check(mask: fn(&str) -> String, cases: &[(&str, &str)]) {
        for (given, shown) in cases {
            assert_eq!(mask(given), *shown, "{given}");
        }
    }

    #[test]
    fn a_mobile_number_keeps_its_first_three_and_last_four_digits() {
        check(
            mask_phone,
            &[
                ("13812345678", "138****5678"),
                ("+86 138-1234-5678", "+86 138-****-5678"),
                ("008613812345678", "0086138****5678"),
                ("+8613812345678", "+86138****5678"),
                // A landline with its area code is as long: the area code stays readable.
                ("010-12345678", "010-****5678"),
                ("0571 8888 1234", "057* **** 1234"),
            ],
        );
    }

    #[test]
    fn a_short_number_shows_only_its_last_two_digits() {
        check(
            mask_phone,
            &[
                ("12345678", "******78"),
                ("1234567890", "********90"),
                ("+86 110", "+86 *10"),
                ("+1 555", "+* *55"),
                ("12", "**"),
                ("7", "*"),
            ],
        );
    }

    #[test]
    fn a_masked_number_is_as_long_as_the_number_and_hides_a_digit_at_least() {
        for phone in [
            "1",
            "12",
            "123",
            "1234567",
            "13812345678",
            "+86 138-1234-5678",
            "-5-",
        ] {
            let masked = mask_phone(phone);
            assert_eq!(masked.chars().count(), phone.chars().count(), "{phone}");
            assert!(masked.contains('*'), "{phone} → {masked}");
        }
    }

    #[test]
    fn a_real_name_keeps_its_first_character() {
        check(
            mask_real_name,
            &[
                ("张三", "张*"),
                ("王小明", "王**"),
                ("欧阳娜娜", "欧***"),
                ("John Smith", "J*********"),
                ("李", "李"),
                ("", ""),
            ],
        );
    }

    #[test]
    fn operators_and_admins_see_contacts_whole_and_the_roles_below_masked() {
        let whole = Contact {
            real_name: Some("王小明".into()),
            phone: Some("13812345678".into()),
        };
        for role in [Role::Operator, Role::Admin] {
            assert_eq!(whole.clone().seen_by(role), whole, "{role}");
        }
        let masked = Contact {
            real_name: Some("王**".into()),
            phone: Some("138****5678".into()),
        };
        for role in [Role::Viewer, Role::Merchant] {
            assert_eq!(whole.clone().seen_by(role), masked, "{role}");
        }
        let none = Contact {
            real_name: None,
            phone: None,
        };
        assert_eq!(none.clone().seen_by(Role::Viewer), none);
        // Every role is one or the other: a role added below operator is masked.
        for role in Role::ALL {
            assert_eq!(sees_whole(*role), *role >= Role::Operator, "{role}");
        }
    }
}
