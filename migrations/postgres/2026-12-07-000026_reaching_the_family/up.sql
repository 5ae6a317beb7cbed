-- Phones in E.164 (issue 35): what was stored as ten national digits
-- becomes +33…, or the overseas département's own country code.
UPDATE referral_families SET parent_phone = CASE
    WHEN substr(parent_phone, 1, 4) IN ('0262', '0263', '0692', '0693', '0269', '0639') THEN '+262' || substr(parent_phone, 2)
    WHEN substr(parent_phone, 1, 4) IN ('0590', '0690', '0691') THEN '+590' || substr(parent_phone, 2)
    WHEN substr(parent_phone, 1, 4) IN ('0594', '0694') THEN '+594' || substr(parent_phone, 2)
    WHEN substr(parent_phone, 1, 4) IN ('0596', '0696', '0697') THEN '+596' || substr(parent_phone, 2)
    ELSE '+33' || substr(parent_phone, 2)
END
WHERE parent_phone LIKE '0_________';
UPDATE referrals SET referent_phone = CASE
    WHEN substr(referent_phone, 1, 4) IN ('0262', '0263', '0692', '0693', '0269', '0639') THEN '+262' || substr(referent_phone, 2)
    WHEN substr(referent_phone, 1, 4) IN ('0590', '0690', '0691') THEN '+590' || substr(referent_phone, 2)
    WHEN substr(referent_phone, 1, 4) IN ('0594', '0694') THEN '+594' || substr(referent_phone, 2)
    WHEN substr(referent_phone, 1, 4) IN ('0596', '0696', '0697') THEN '+596' || substr(referent_phone, 2)
    ELSE '+33' || substr(referent_phone, 2)
END
WHERE referent_phone LIKE '0_________';

-- How the family wants to be reached: by SMS, by e-mail, by a phone call
-- only, or through its referent; NULL when nobody asked (no message then).
ALTER TABLE referral_families ADD COLUMN parent_contact TEXT CHECK (parent_contact IN ('sms', 'email', 'phone_call', 'referent'));

-- The crèche's phone, for the family's messages, and whether a family
-- that can be reached gets an acknowledgment at intake.
ALTER TABLE creches ADD COLUMN phone TEXT;
ALTER TABLE creches ADD COLUMN auto_acknowledgment BOOLEAN NOT NULL DEFAULT FALSE;

-- The outbox carries SMS as well as e-mails, and a row the provider
-- refused for good (`failed`) is no longer tried.
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'sent', 'failed'));
ALTER TABLE notifications ADD COLUMN channel TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms'));
